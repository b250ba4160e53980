// The image's HEALTHCHECK: `sluice health` against the address the server in this container listens
// on. That address may come from a config file, SLUICE_* variables or flags given to `docker run`, so
// rather than assume a port, this asks `sluice serve --check-config` with the server's own arguments,
// environment and working directory (read from /proc/<pid>; the server is PID 1 in the image).
// Usage: node healthcheck.mjs [pid]. Exits 0 only when the server answers SERVING.
import { spawnSync } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";

const pid = process.argv[2] ?? "1";

function fail(message) {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(1);
}

let argv, env, cwd;
try {
  argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  env = Object.fromEntries(environ.map((entry) => entry.split(/=(.*)/s).slice(0, 2)));
  cwd = readlinkSync(`/proc/${pid}/cwd`);
} catch (error) {
  fail(`cannot read process ${pid}: ${error.message}`);
}
const serve = argv.indexOf("serve");
if (serve < 1) fail(`process ${pid} is not \`sluice serve\`: ${argv.join(" ")}`);

/** Runs the server's own `sluice` (its Node options and script, everything before `serve`). */
function sluice(args) {
  const result = spawnSync(process.execPath, [...argv.slice(1, serve), ...args], { cwd, env, encoding: "utf8" });
  if (result.error) fail(result.error.message);
  return result;
}

const check = sluice(["serve", ...argv.slice(serve + 1), "--check-config"]);
if (check.status !== 0) fail(`the server's configuration does not load: ${check.stderr.trim()}`);
const { listen } = JSON.parse(check.stdout.slice(0, check.stdout.lastIndexOf("}") + 1));
const [, host, port] = /^(.*):(\d+)$/.exec(listen);
if (port === "0") fail(`listen is ${listen}: a port picked at start cannot be found again; configure a fixed port`);
// A wildcard host listens on every interface, loopback included.
const address = `${host === "0.0.0.0" ? "127.0.0.1" : /^\[[0:]+\]$/.test(host) ? "[::1]" : host}:${port}`;

const health = sluice(["health", "--address", address]);
process.stdout.write(`${address}: ${health.stdout || "no answer\n"}`);
process.stderr.write(health.stderr);
process.exit(health.status ?? 1);
