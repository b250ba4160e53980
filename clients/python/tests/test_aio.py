"""AsyncSluiceClient against in-process gRPC servers: it connects as SluiceClient does (credentials on
the wrappers' and the stubs' calls, over plaintext and TLS; message limits of 64 MiB unless the caller
sets one), refuses the same bad options, and raises the same errors. test_server.py runs it against a
real server.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import unittest
from pathlib import Path
from typing import Any

import grpc

from sluice import SluiceArgumentError, SluiceError, Tls, TokenUnavailableError
from sluice.aio import AsyncSluiceClient
from sluice._coalesce import OnlineReadCoalescer
from sluice._online import OnlineRequests
from sluice.v1 import access_pb2, ingestion_pb2, online_pb2, registry_pb2, types_pb2
import test_message_size
from stubs import typed_answer
from test_credentials import fake_server, issue

METHODS = ["WhoAmI", "ListProjects", "ListProjects", "WriteFeatures"]


async def call_every_way(client: AsyncSluiceClient) -> None:
    """A wrapper-style call (call()), a generated stub's call, directly and through call(), and a stream."""
    assert (await client.call(client.access.WhoAmI, access_pb2.WhoAmIRequest())).principal == "alice"
    await client.call(client.registry.ListProjects, registry_pb2.ListProjectsRequest())
    await client.registry.ListProjects(registry_pb2.ListProjectsRequest(), timeout=5)
    acks = [ack async for ack in client.ingestion.WriteFeatures(iter([ingestion_pb2.WriteFeaturesRequest(write_id="w1")]), timeout=5)]
    assert [a.write_id for a in acks] == ["w1"]


class Credentials(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server, cls.address, cls.seen = fake_server()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop(None)

    def setUp(self) -> None:
        self.seen.calls.clear()

    def calls(self, **options: Any) -> list[tuple[str, list[str]]]:
        async def main() -> None:
            async with AsyncSluiceClient(self.address, timeout=5, **options) as client:
                await call_every_way(client)

        asyncio.run(main())
        return self.seen.calls

    def test_no_credentials(self) -> None:
        self.assertEqual(self.calls(), [(m, []) for m in METHODS])

    def test_api_key_on_every_kind_of_call(self) -> None:
        self.assertEqual(self.calls(api_key="sk_test"), [(m, ["Bearer sk_test"]) for m in METHODS])

    def test_token_provider_asked_per_call(self) -> None:
        tokens = iter(f"jwt-{n}" for n in range(1, 100))
        self.assertEqual(self.calls(token=lambda: next(tokens)), [(m, [f"Bearer jwt-{n}"]) for n, m in enumerate(METHODS, 1)])

    def test_failing_provider_fails_the_call_unsent(self) -> None:
        def token() -> str:
            raise RuntimeError("the identity provider is down")

        async def main() -> None:
            async with AsyncSluiceClient(self.address, timeout=5, token=token) as client:
                with self.assertRaises(SluiceError) as caught:
                    await client.health_check()
                self.assertEqual(caught.exception.code_name, "UNAUTHENTICATED")
                self.assertEqual(caught.exception.message, "Getting metadata from plugin failed with error: the identity provider is down")
                with self.assertRaises(TokenUnavailableError):
                    await client.registry.ListProjects(registry_pb2.ListProjectsRequest())

        asyncio.run(main())
        self.assertEqual(self.seen.calls, [])

    def test_bad_options_are_refused_as_by_the_blocking_client(self) -> None:
        for options, field in [
            ({"api_key": "sk_1", "token": "t"}, "token"),
            ({"tls": "yes"}, "tls"),
            ({"project": "Bad Project"}, "project"),
        ]:
            with self.subTest(field), self.assertRaises(SluiceArgumentError) as caught:
                AsyncSluiceClient("127.0.0.1:1", **options)
            self.assertEqual(caught.exception.field_violations[0].field, field)
        with self.assertRaises(SluiceArgumentError) as remote:
            AsyncSluiceClient("sluice.example:50051", api_key="sk_1")
        self.assertIn("must be set when credentials go to sluice.example:50051", remote.exception.message)

    def test_errors_of_calls_and_arguments(self) -> None:
        async def main() -> None:
            async with AsyncSluiceClient(self.address, timeout=5, project="shop") as client:
                # The fake server has no HealthService: the call's own failure, decoded.
                with self.assertRaises(SluiceError) as failed:
                    await client.health_check()
                self.assertEqual(failed.exception.code_name, "UNIMPLEMENTED")
                with self.assertRaises(SluiceArgumentError) as bad_name:
                    await client.get_feature_view("Customer-Stats")
                self.assertEqual(bad_name.exception.reason, "INVALID_RESOURCE_NAME")
                with self.assertRaises(SluiceArgumentError):
                    await client.get_historical_features(["v:f"], [], as_table=True, as_frame=True)

        asyncio.run(main())


class OverTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("the openssl CLI is not installed")
        cls.dir = Path(tempfile.mkdtemp(prefix="sluice-py-aio-tls-"))
        issue(cls.dir, "ca", None, "", "")
        cert, key = issue(cls.dir, "server", "ca", "IP:127.0.0.1,DNS:localhost", "serverAuth")
        cls.server, cls.address, cls.seen = fake_server(grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())]))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop(None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_ca_bundle_and_api_key(self) -> None:
        async def main() -> None:
            tls = Tls.from_files(self.dir / "ca.pem")
            async with AsyncSluiceClient(self.address, timeout=5, api_key="sk_tls", tls=tls) as client:
                await call_every_way(client)

        asyncio.run(main())
        self.assertEqual(self.seen.calls, [(m, ["Bearer sk_tls"]) for m in METHODS])


def tens(request: online_pb2.GetOnlineFeaturesRequest) -> online_pb2.GetOnlineFeaturesResponse:
    """A server's answer with one feature `f` worth ten times each row's `id`; refuses uneven join key columns as the server does."""
    lengths = {len(column.values) for column in request.entities.values()}
    if len(lengths) != 1:
        raise SluiceError(code=grpc.StatusCode.INVALID_ARGUMENT, message="uneven", reason="INVALID_ENTITY_ROWS")
    ids = [value.int64_value for value in request.entities["id"].values]
    return typed_answer([("f", types_pb2.VALUE_TYPE_INT64, [10 * i for i in ids])], [types_pb2.FEATURE_STATUS_PRESENT] * len(ids), [1] * len(ids))


class Coalescer(unittest.TestCase):
    """OnlineReadCoalescer against a stand-in for the call: what it sends, and what each reader gets."""

    def run_reads(self, columns: list[dict[str, list[Any]]], send: Any = None, max_rows: int = 1000) -> tuple[list[Any], list[list[int]]]:
        sent: list[list[int]] = []

        async def call(request: online_pb2.GetOnlineFeaturesRequest) -> online_pb2.GetOnlineFeaturesResponse:
            sent.append([value.int64_value for value in request.entities["id"].values])
            return await send(request) if send else tens(request)

        async def main() -> list[Any]:
            coalescer, requests = OnlineReadCoalescer(call, max_rows), OnlineRequests()
            reads = []
            for entities in columns:
                request, rows = requests.build("projects/p", ("v:f",), entities, "", False)
                reads.append(coalescer.read(request, rows, False, False))
            return await asyncio.gather(*reads, return_exceptions=True)

        return asyncio.run(main()), sent

    def test_each_reader_gets_its_own_rows_of_one_call(self) -> None:
        answers, sent = self.run_reads([{"id": [1]}, {"id": [2, 3]}, {"id": [4]}])
        self.assertEqual(answers, [[{"id": 1, "f": 10}], [{"id": 2, "f": 20}, {"id": 3, "f": 30}], [{"id": 4, "f": 40}]])
        self.assertEqual(sent, [[1, 2, 3, 4]])

    def test_uneven_join_key_columns_go_alone_and_fail_alone(self) -> None:
        # Two uneven reads whose columns would even out together, and two even ones.
        reads = [{"id": [1, 2], "k": [3]}, {"id": [4], "k": [5, 6]}, {"id": [7], "k": [8]}, {"id": [9], "k": [1]}]
        answers, sent = self.run_reads(reads)
        self.assertEqual([a.reason if isinstance(a, SluiceError) else a for a in answers[:2]], ["INVALID_ENTITY_ROWS"] * 2)
        self.assertEqual(answers[2:], [[{"id": 7, "k": 8, "f": 70}], [{"id": 9, "k": 1, "f": 90}]])
        self.assertEqual(sorted(sent), [[1, 2], [4], [7, 9]])

    def test_a_read_over_max_rows_goes_in_a_call_of_its_own(self) -> None:
        answers, sent = self.run_reads([{"id": [1]}, {"id": [2, 3, 4, 5]}, {"id": [6]}, {"id": [7]}], max_rows=3)
        self.assertEqual([len(a) for a in answers], [1, 4, 1, 1])
        self.assertEqual(sent, [[1], [2, 3, 4, 5], [6, 7]])

    def test_a_shared_answer_is_checked_once_and_each_reader_finds_its_own_nulls(self) -> None:
        async def with_nulls(request: online_pb2.GetOnlineFeaturesRequest) -> online_pb2.GetOnlineFeaturesResponse:
            ids = [value.int64_value for value in request.entities["id"].values]
            return typed_answer([("f", types_pb2.VALUE_TYPE_INT64, [None if i % 2 else 10 * i for i in ids])], [1] * len(ids), [1] * len(ids))

        answers, sent = self.run_reads([{"id": [i]} for i in range(1, 8)], send=with_nulls)
        self.assertEqual(answers, [[{"id": i, "f": None if i % 2 else 10 * i}] for i in range(1, 8)])
        self.assertEqual(sent, [list(range(1, 8))])

        async def short(request: online_pb2.GetOnlineFeaturesRequest) -> online_pb2.GetOnlineFeaturesResponse:
            response = tens(request)
            del response.flat.statuses[-1]
            return response

        answers, _ = self.run_reads([{"id": [1]}, {"id": [2, 3]}], send=short)
        self.assertEqual([(a.code_name, a.reason) for a in answers], [("INTERNAL", "ONLINE_ANSWER_MALFORMED")] * 2)

    def test_rate_limited_fails_every_read_once_and_a_message_too_large_is_resent_read_by_read(self) -> None:
        def refusing(reason: str) -> Any:
            async def send(request: online_pb2.GetOnlineFeaturesRequest) -> online_pb2.GetOnlineFeaturesResponse:
                if len(request.entities["id"].values) > 1:
                    raise SluiceError(code=grpc.StatusCode.RESOURCE_EXHAUSTED, message="no", reason=reason)
                return tens(request)

            return send

        limited, sent = self.run_reads([{"id": [1]}, {"id": [2]}], refusing("RATE_LIMITED"))
        self.assertEqual([a.reason for a in limited], ["RATE_LIMITED"] * 2)
        self.assertEqual(sent, [[1, 2]])
        too_large, sent = self.run_reads([{"id": [1]}, {"id": [2]}], refusing(""))
        self.assertEqual(too_large, [[{"id": 1, "f": 10}], [{"id": 2, "f": 20}]])
        self.assertEqual(sent, [[1, 2], [1], [2]])

    def test_the_call_is_cancelled_once_every_reader_is(self) -> None:
        outcome: list[str] = []

        async def main() -> list[str]:
            started = asyncio.Event()

            async def never(request: online_pb2.GetOnlineFeaturesRequest) -> online_pb2.GetOnlineFeaturesResponse:
                started.set()
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    outcome.append("call cancelled")
                    raise
                return tens(request)

            coalescer, requests = OnlineReadCoalescer(never), OnlineRequests()
            readers = [asyncio.ensure_future(coalescer.read(*requests.build("projects/p", ("v:f",), {"id": [i]}, "", False), False, False)) for i in (1, 2)]
            await started.wait()
            readers[0].cancel()
            await asyncio.sleep(0.01)
            outcome.append("running after one" if not outcome else "cancelled after one")
            readers[1].cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.sleep(0.01)
            # Taken before asyncio.run cancels whatever is left.
            return list(outcome)

        self.assertEqual(asyncio.run(main()), ["running after one", "call cancelled"])


class CoalescedReads(unittest.TestCase):
    def test_a_call_failing_for_the_channel_fails_every_read_in_it_once(self) -> None:
        """Reads coalesced into one call to a port nothing listens on: each read raises the call's
        UNAVAILABLE, and they are not retried one by one (test_server.py has the other cases)."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            address = f"127.0.0.1:{probe.getsockname()[1]}"
        sent: list[int] = []

        async def main() -> list[Any]:
            async with AsyncSluiceClient(address, timeout=5, coalesce_online_reads=True) as client:
                coalescer = client._coalescer
                assert coalescer is not None
                send = coalescer._send
                coalescer._send = lambda request: (sent.append(len(request.entities["id"].values)), send(request))[1]
                reads = (client.get_online_features(["v:f"], {"id": [i]}) for i in range(3))
                return await asyncio.gather(*reads, return_exceptions=True)

        failures = asyncio.run(main())
        self.assertEqual([f.code_name if isinstance(f, SluiceError) else f for f in failures], ["UNAVAILABLE"] * 3)
        self.assertEqual(sent, [3])


class MessageLimits(test_message_size.MessageSize):
    """test_message_size's server, through the asyncio client."""

    def test_a_response_over_4_mib_arrives(self) -> None:
        async def main() -> registry_pb2.ListProjectsResponse:
            async with AsyncSluiceClient(self.address) as client:
                return await client.call(client.registry.ListProjects, registry_pb2.ListProjectsRequest())

        self.assertEqual(len(asyncio.run(main()).projects), len(test_message_size.LARGE))

    def test_the_callers_limit_wins(self) -> None:
        async def main() -> None:
            async with AsyncSluiceClient(self.address, options=[("grpc.max_receive_message_length", 1024 * 1024)]) as client:
                await client.call(client.registry.ListProjects, registry_pb2.ListProjectsRequest())

        with self.assertRaises(SluiceError) as refused:
            asyncio.run(main())
        self.assertEqual(refused.exception.code, grpc.StatusCode.RESOURCE_EXHAUSTED)


if __name__ == "__main__":
    unittest.main()
