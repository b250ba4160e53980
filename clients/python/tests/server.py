"""A real Sluice server for the tests that need one: the built server of this checkout
(`dist/src/cli/main.js`, from `npm run build`) started on 127.0.0.1:0 with a fresh data dir, stopped by
the test module that started it.

Without node or a built server the tests that need it are skipped, saying why, unless
REQUIRE_CLIENT_TESTS=1 (set by .ci/run), which makes that a failure; the same holds for the tests that
need the optional pandas, numpy and pyarrow (`requires_dataframes`). SERVER_ADDRESS=host:port uses a
server already running instead (its data is then shared with earlier runs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[3]


def requires_dataframes(available: bool) -> Any:
    """A class decorator for the tests of DataFrame and Arrow spines: they need the optional pandas,
    numpy and pyarrow (the client's `pandas` extra). Without them such tests are skipped, saying
    why, except under REQUIRE_CLIENT_TESTS=1 (.ci/run), where their absence fails the run."""
    if not available and os.environ.get("REQUIRE_CLIENT_TESTS") == "1":
        raise RuntimeError("pandas, numpy and pyarrow are needed (pip install -r clients/python/requirements-dev.txt), but REQUIRE_CLIENT_TESTS=1")
    return unittest.skipUnless(available, "pandas, numpy and pyarrow are not installed (pip install -r clients/python/requirements-dev.txt)")
SERVER_SCRIPT = REPOSITORY / "dist" / "src" / "cli" / "main.js"
START_SECONDS = 60


class RunningServer:
    """A server process (or one given by SERVER_ADDRESS) and its address."""

    def __init__(self) -> None:
        self.address = os.environ.get("SERVER_ADDRESS", "")
        self._process: subprocess.Popen[str] | None = None
        self._drainer = threading.Thread()
        self._data_dir = ""
        if self.address:
            return
        node = shutil.which("node")
        missing = "node is not on the PATH" if node is None else "" if SERVER_SCRIPT.exists() else f"{SERVER_SCRIPT} is not built (npm run build)"
        if missing:
            if os.environ.get("REQUIRE_CLIENT_TESTS") == "1":
                raise RuntimeError(f"a real server is needed: {missing}, but REQUIRE_CLIENT_TESTS=1")
            raise unittest.SkipTest(f"no real server: {missing}")
        self._data_dir = tempfile.mkdtemp(prefix="sluice-python-tests-")
        # The server refuses SLUICE_* variables it does not know, and reads those it does: neither
        # may leak in from the environment the tests run in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        self._process = subprocess.Popen(
            [str(node), str(SERVER_SCRIPT), "serve", "--listen", "127.0.0.1:0", "--data-dir", self._data_dir, "--log-level", "info"],
            cwd=REPOSITORY,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.address = self._wait_for_address()
        # Keep reading its log so that a full pipe never blocks it.
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _wait_for_address(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        seen: list[str] = []
        timer = threading.Timer(START_SECONDS, self._process.kill)
        timer.start()
        try:
            for line in self._process.stdout:
                seen.append(line)
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("msg") == "sluice is serving":
                    return str(entry["address"])
        finally:
            timer.cancel()
        self.stop()
        raise RuntimeError("the server did not start:\n" + "".join(seen[-20:]))

    def _drain(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for _ in self._process.stdout:
            pass

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._drainer.join(timeout=5)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._data_dir:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = ""
