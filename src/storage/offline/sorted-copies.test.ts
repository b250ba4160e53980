import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ArrowChunk } from "./offline-store.js";
import { DamagedCopyError, type SortedCopyRead, SortedHistoryCopies } from "./sorted-copies.js";

/** A chunk of `size` bytes, each `fill`, said to hold `rows` rows (the copies never parse them). */
const chunk = (fill: number, size = 64, rows = 1): ArrowChunk => ({ ipc: new Uint8Array(size).fill(fill), rows });

/** Each chunk's distinct byte values and rows, as they are when taken. */
async function taken(read: SortedCopyRead | undefined): Promise<Array<{ bytes: number[]; rows: number }>> {
  const all: Array<{ bytes: number[]; rows: number }> = [];
  for await (const { ipc, rows } of found(read).chunks) all.push({ bytes: [...new Set(ipc)], rows });
  return all;
}

/** A read that must have been found. */
function found(read: SortedCopyRead | undefined): SortedCopyRead {
  if (!read) throw new Error("no such copy");
  return read;
}

async function written(copies: SortedHistoryCopies, table: string, version: string, chunks: ArrowChunk[], columns = ["k", "__time", "f"]) {
  const writer = await copies.write(table, version, columns, 0);
  if (!writer) throw new Error("no writer");
  for (const c of chunks) await writer.add(c);
  return writer.commit();
}

describe("sorted copies of histories", () => {
  it("reads back what was written, in order, chunk by chunk, also after reopening, and only at its version with its columns", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sluice-copies-"));
    const copies = await SortedHistoryCopies.open(directory, 1 << 20);
    // A chunk without rows is left out.
    expect(
      await written(copies, "db.t", "v1", [chunk(1, 100, 3), chunk(2, 10, 0), chunk(3, 40, 2), chunk(4, 8, 1), chunk(5, 300, 7)]),
    ).toEqual({
      rows: 13,
      bytes: 4 * 16 + 100 + 40 + 8 + 300,
    });
    const expected = [
      { bytes: [1], rows: 3 },
      { bytes: [3], rows: 2 },
      { bytes: [4], rows: 1 },
      { bytes: [5], rows: 7 },
    ];
    const read = copies.read("db.t", "v1", ["f", "k"]);
    expect(await taken(read)).toEqual(expected);
    read?.release();
    expect(copies.read("db.t", "v2", ["f"])).toBeUndefined();
    expect(copies.read("db.t", "v1", ["g"])).toBeUndefined();
    expect(copies.read("db.other", "v1", ["f"])).toBeUndefined();

    const reopened = await SortedHistoryCopies.open(directory, 1 << 20);
    const again = reopened.read("db.t", "v1", ["f"]);
    expect(await taken(again)).toEqual(expected);
    again?.release();
    expect(reopened.counts).toEqual({ reads: 1, writes: 0 });
  });

  it("keeps a chunk's bytes until the chunk two after it is taken, as the merge needs", async () => {
    const copies = await SortedHistoryCopies.open(mkdtempSync(join(tmpdir(), "sluice-copies-")), 1 << 20);
    await written(
      copies,
      "db.t",
      "v1",
      Array.from({ length: 7 }, (_, i) => chunk(i + 1, 50 + i)),
    );
    const read = copies.read("db.t", "v1", []);
    let previous: Uint8Array | undefined;
    let fill = 0;
    for await (const { ipc } of found(read).chunks) {
      fill++;
      // The one before this one is intact while this one is taken.
      if (previous) expect([...new Set(previous)]).toEqual([fill - 1]);
      expect([...new Set(ipc)]).toEqual([fill]);
      previous = ipc;
    }
    expect(fill).toBe(7);
  });

  it("leaves out what a crash left: a data file no manifest names, a manifest whose file is short or missing, a temporary manifest", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sluice-copies-"));
    const copies = await SortedHistoryCopies.open(directory, 1 << 20);
    await written(copies, "db.kept", "v1", [chunk(1)]);
    await written(copies, "db.short", "v1", [chunk(2)]);
    const shortFile = readdirSync(directory).find((name) => name.startsWith("db.short.") && name.endsWith(".arrows")) as string;
    truncateSync(join(directory, shortFile), 10);
    writeFileSync(join(directory, "db.orphan.0000.arrows"), "x");
    writeFileSync(join(directory, "db.kept.json.1234"), "{");
    writeFileSync(
      join(directory, "db.missing.json"),
      JSON.stringify({ version: "v", columns: [], file: "gone.arrows", bytes: 1, chunks: 1, rows: 1 }),
    );
    writeFileSync(join(directory, "db.bad.json"), "not json");
    const reopened = await SortedHistoryCopies.open(directory, 1 << 20);
    expect(readdirSync(directory).sort()).toEqual([expect.stringMatching(/^db\.kept\.[0-9a-f-]+\.arrows$/), "db.kept.json"]);
    expect(reopened.read("db.short", "v1", [])).toBeUndefined();
    const kept = reopened.read("db.kept", "v1", []);
    expect(await taken(kept)).toEqual([{ bytes: [1], rows: 1 }]);
  });

  it("throws, instead of reading on, when a chunk runs past the end of its copy", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sluice-copies-"));
    const copies = await SortedHistoryCopies.open(directory, 1 << 20);
    await written(copies, "db.t", "v1", [chunk(1, 32)]);
    const file = readdirSync(directory).find((name) => name.endsWith(".arrows")) as string;
    // The chunk's length says 4,096 bytes, in a file of 48.
    const header = Buffer.alloc(16);
    header.writeBigUInt64LE(4096n);
    writeFileSync(join(directory, file), Buffer.concat([header, Buffer.alloc(32)]));
    const read = copies.read("db.t", "v1", []);
    await expect(taken(read)).rejects.toThrow(DamagedCopyError);
    // Dropped: the next join reads the engine, and a new copy may be written; its file goes with the read.
    expect(copies.read("db.t", "v1", [])).toBeUndefined();
    read?.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(readdirSync(directory)).toEqual([]);
  });

  it("drops a copy whose file is gone, or whose chunk says it has no rows (the reused buffers count on rows)", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sluice-copies-"));
    const copies = await SortedHistoryCopies.open(directory, 1 << 20);
    await written(copies, "db.gone", "v1", [chunk(1)]);
    await written(copies, "db.empty", "v1", [chunk(2, 32)]);
    rmSync(join(directory, readdirSync(directory).find((name) => name.startsWith("db.gone.") && name.endsWith(".arrows")) as string));
    await expect(taken(copies.read("db.gone", "v1", []))).rejects.toThrow(DamagedCopyError);
    const empty = join(
      directory,
      readdirSync(directory).find((name) => name.startsWith("db.empty.") && name.endsWith(".arrows")) as string,
    );
    const header = Buffer.alloc(16);
    header.writeBigUInt64LE(32n);
    writeFileSync(empty, Buffer.concat([header, Buffer.alloc(32)]));
    await expect(taken(copies.read("db.empty", "v1", []))).rejects.toThrow(DamagedCopyError);
    expect(copies.read("db.gone", "v1", [])).toBeUndefined();
    expect(copies.read("db.empty", "v1", [])).toBeUndefined();
  });

  it("opens beside a directory it did not make, drops a manifest naming a file not of its table, and keeps within a lowered budget", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sluice-copies-"));
    const copies = await SortedHistoryCopies.open(directory, 1 << 20);
    await written(copies, "db.a", "v1", [chunk(1, 100)]);
    await written(copies, "db.b", "v1", [chunk(2, 100)]);
    mkdirSync(join(directory, "db.c.json"));
    const otherFile = readdirSync(directory).find((name) => name.startsWith("db.a.") && name.endsWith(".arrows")) as string;
    writeFileSync(
      join(directory, "db.x.json"),
      JSON.stringify({ version: "v", columns: [], file: otherFile, bytes: 116, chunks: 1, rows: 1 }),
    );
    // Room for one copy: the least recently used (a) goes.
    const reopened = await SortedHistoryCopies.open(directory, 150);
    expect(reopened.read("db.x", "v", [])).toBeUndefined();
    expect(reopened.read("db.a", "v1", [])).toBeUndefined();
    expect(await taken(reopened.read("db.b", "v1", []))).toEqual([{ bytes: [2], rows: 1 }]);
    expect(readdirSync(directory).sort()).toEqual([expect.stringMatching(/^db\.b\.[0-9a-f-]+\.arrows$/), "db.b.json", "db.c.json"]);
  });

  it("stays within its budget: the least recently used copy goes, a copy that outgrows it is dropped, one too large is not begun", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sluice-copies-"));
    // Room for two copies of one 100-byte chunk (116 bytes each), not three.
    const copies = await SortedHistoryCopies.open(directory, 300);
    await written(copies, "db.a", "v1", [chunk(1, 100)]);
    await written(copies, "db.b", "v1", [chunk(2, 100)]);
    copies.read("db.a", "v1", [])?.release();
    await written(copies, "db.c", "v1", [chunk(3, 100)]);
    expect(copies.read("db.b", "v1", [])).toBeUndefined();
    expect(copies.read("db.a", "v1", [])).toBeDefined();
    expect(copies.read("db.c", "v1", [])).toBeDefined();
    expect(await written(copies, "db.d", "v1", [chunk(4, 100), chunk(4, 100), chunk(4, 100)])).toBeUndefined();
    expect(await copies.write("db.e", "v1", [], 301)).toBeUndefined();
    // A copy that outgrew its room is not tried again at that version; at another, it is.
    expect(await copies.write("db.d", "v1", [], 0)).toBeUndefined();
    const next = await copies.write("db.d", "v2", [], 0);
    expect(next).toBeDefined();
    await next?.discard();
    expect(readdirSync(directory).filter((name) => name.endsWith(".arrows"))).toHaveLength(2);
    expect(copies.counts.writes).toBe(3);
  });

  it("writes one copy of a table at a time, and a replaced copy's file stays until its reader is done", async () => {
    const directory = mkdtempSync(join(tmpdir(), "sluice-copies-"));
    const copies = await SortedHistoryCopies.open(directory, 1 << 20);
    const writer = await copies.write("db.t", "v1", [], 0);
    expect(await copies.write("db.t", "v1", [], 0)).toBeUndefined();
    await writer?.add(chunk(1));
    await writer?.discard();
    expect(readdirSync(directory)).toEqual([]);

    await written(copies, "db.t", "v1", [chunk(1), chunk(1)]);
    const old = copies.read("db.t", "v1", []);
    await written(copies, "db.t", "v2", [chunk(2)]);
    expect(copies.read("db.t", "v1", [])).toBeUndefined();
    expect(readdirSync(directory).filter((name) => name.endsWith(".arrows"))).toHaveLength(2);
    expect(await taken(old)).toEqual([
      { bytes: [1], rows: 1 },
      { bytes: [1], rows: 1 },
    ]);
    old?.release();
    old?.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(readdirSync(directory).filter((name) => name.endsWith(".arrows"))).toHaveLength(1);
    const current = copies.read("db.t", "v2", []);
    expect(await taken(current)).toEqual([{ bytes: [2], rows: 1 }]);
  });

  it("takes only table names the store makes, as file names", async () => {
    const copies = await SortedHistoryCopies.open(mkdtempSync(join(tmpdir(), "sluice-copies-")), 1 << 20);
    expect(await copies.write("../etc.passwd", "v1", [], 0)).toBeUndefined();
    expect(await copies.write("db/t", "v1", [], 0)).toBeUndefined();
  });
});
