/** deploy/nginx.conf as the tests run it on the local nginx, which may be older than the file needs. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

const root = join(import.meta.dirname, "../..");

/** The local nginx's version (`nginx -v` prints it on stderr). */
export function nginxVersion(): number[] {
  const version = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(spawnSync("nginx", ["-v"], { encoding: "utf8" }).stderr);
  if (!version) throw new Error("nginx -v printed no version");
  return version.slice(1).map(Number);
}

/** Whether `version` is `minimum` or newer (both as [major, minor, patch]). */
export function atLeast(version: number[], minimum: number[]): boolean {
  const first = version.findIndex((v, i) => v !== minimum[i]);
  return first < 0 || (version[first] as number) > (minimum[first] as number);
}

/** Replaces every match of `pattern` (global), which must match exactly `count` times. */
export function replaceExactly(text: string, pattern: RegExp, replacement: string, count: number): string {
  expect(text.match(pattern)?.length ?? 0, `${pattern} in deploy/nginx.conf`).toBe(count);
  return text.replace(pattern, replacement);
}

/**
 * deploy/nginx.conf as the nginx image's entrypoint renders it (the resolver filled in), changed by
 * `rewrite` (addresses, ports), then adapted to the local nginx only where it is older than what the
 * file needs, saying so:
 * - before 1.25.1 there is no `http2 on;` directive: the same is `listen ... http2`;
 * - before 1.27.3 open-source nginx has no `resolve` on upstream servers: without it, nginx resolves
 *   the replica names once, at start (returned in `resolvedAtStart`, so callers point them at loopback).
 * Each adaptation must find exactly what it replaces, so a changed file fails here instead of being
 * checked in some other shape. Debian's nginx-light (1.22.1 in bookworm) needs both.
 */
export function renderNginxConf(
  resolver: string,
  rewrite: (conf: string) => string = (conf) => conf,
): { conf: string; resolvedAtStart: boolean } {
  let conf = rewrite(replaceExactly(readFileSync(join(root, "deploy/nginx.conf"), "utf8"), /\$\{NGINX_LOCAL_RESOLVERS\}/g, resolver, 1));
  const version = nginxVersion();
  const adapted: string[] = [];
  if (!atLeast(version, [1, 25, 1])) {
    conf = replaceExactly(conf, /^\s*http2 on;\n/gm, "", 1);
    conf = replaceExactly(conf, /listen (\S+);/g, "listen $1 http2;", 1);
    adapted.push("`http2 on;` as `listen ... http2`");
  }
  const resolvedAtStart = !atLeast(version, [1, 27, 3]);
  if (resolvedAtStart) {
    conf = replaceExactly(conf, /^(\s*server \S+) resolve /gm, "$1 ", 2);
    adapted.push("`resolve` dropped");
  }
  if (adapted.length) process.stdout.write(`deploy/nginx.conf on nginx ${version.join(".")} here: ${adapted.join(", ")}\n`);
  return { conf, resolvedAtStart };
}
