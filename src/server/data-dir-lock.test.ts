import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lockDataDir } from "./data-dir-lock.js";

const fresh = () => mkdtempSync(join(tmpdir(), "sluice-lock-"));

describe("lockDataDir", () => {
  it("refuses a second lock in the same process until released", () => {
    const dir = fresh();
    const release = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(/in use by another Sluice server/);
    release();
    lockDataDir(dir)();
  });

  it("refuses a lock held by another live process", () => {
    const dir = fresh();
    writeFileSync(join(dir, "sluice.lock"), String(process.ppid));
    expect(() => lockDataDir(dir)).toThrow(`pid ${process.ppid}`);
  });

  it.each([
    ["a dead process", "999999999"],
    ["a predecessor that had this pid", String(process.pid)],
    ["garbage", "not a pid"],
  ])("takes over a lock left by %s", (_label, content) => {
    const dir = fresh();
    writeFileSync(join(dir, "sluice.lock"), content);
    const release = lockDataDir(dir);
    expect(readFileSync(join(dir, "sluice.lock"), "utf8")).toBe(String(process.pid));
    release();
  });
});
