/**
 * Installation weight: the lockfile says which platform each native package is for, so `npm ci`
 * installs this platform's binaries only (other platforms' builds of biome, buf, chDB, lmdb, ...
 * once took 1.1 GB of node_modules).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
  packages: Record<string, { optional?: boolean; os?: string[]; cpu?: string[]; libc?: string[] }>;
};
/** Words by which platform packages name their platform. */
const PLATFORM_WORDS = /(^|[-/])(darwin|linux|win32|android|freebsd|openbsd|netbsd|sunos|aix|openharmony)([-/]|$)/;

/** Whether a lockfile entry's os/cpu fields exclude this machine. */
function foreign(entry: { os?: string[]; cpu?: string[] }): boolean {
  return (entry.os !== undefined && !entry.os.includes(process.platform)) || (entry.cpu !== undefined && !entry.cpu.includes(process.arch));
}

describe("package-lock.json", () => {
  it("gives every optional platform package the os or cpu it is for", () => {
    const unmarked = Object.entries(lock.packages)
      .filter(([location, entry]) => entry.optional && PLATFORM_WORDS.test(location.split("node_modules/").pop() ?? ""))
      .filter(([, entry]) => entry.os === undefined && entry.cpu === undefined)
      .map(([location]) => location);
    expect(unmarked).toEqual([]);
  });

  it("left no other platform's package in node_modules", () => {
    const installed = Object.entries(lock.packages)
      .filter(([location, entry]) => location !== "" && foreign(entry) && existsSync(join(root, location)))
      .map(([location]) => location);
    expect(installed).toEqual([]);
  });
});
