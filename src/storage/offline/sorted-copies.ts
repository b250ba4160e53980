/**
 * Sorted copies of offline histories on the server's own disk, for the joins it streams
 * (streamed-join.ts). That join merges each view's history in key, event time, ingestion time
 * order; the engine's read of two 10M-row histories so took 3.3-3.9 s with the merge on two cores
 * (it merges the table's parts as it reads, and each row passes a filter), where reading the same
 * Arrow back from files and merging took 0.8-1.2 s. So after a streamed join reads a table from
 * the engine, the store writes the table's whole history in that order to a copy, in the
 * background; later joins at the same version read the copy. Any write, delete or schema change
 * makes a new version (ClickHouseOfflineStore's table versions), which no copy matches.
 *
 * A copy is two files in the directory: `<table>.<id>.arrows`, the engine's answer as it came, a
 * sequence of complete Arrow IPC streams, each behind its length and its rows (8 bytes each,
 * little-endian), and `<table>.json`, its manifest, written last (to a temporary name, then
 * renamed), so a copy that a crash left half written is never read. The copies together stay
 * within a byte budget: the least recently used go first, and a copy that would not fit is not
 * written.
 */
import { randomUUID } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ArrowChunk, ArrowChunks } from "./offline-store.js";

/** What a copy's manifest says. */
interface Manifest {
  /** The table's version (opaque, from the store) the copy holds. */
  version: string;
  /** The columns of each chunk, in order. */
  columns: string[];
  /** The data file, in the copies' directory. */
  file: string;
  bytes: number;
  chunks: number;
  rows: number;
}

/** Before each chunk: its length and its rows. */
const HEADER_BYTES = 16;
/** Buffers a read of a copy reuses: the chunk read ahead, the one merged, the one before it. */
const RING = 3;
/** A table's name as a file name: the store's names are `[A-Za-z0-9_]` joined by a dot. */
const TABLE_NAME = /^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$/;

/** A copy being read by a join: its files stay until it is released, even when the copy is replaced meanwhile. */
export interface SortedCopyRead {
  /** The copy's chunks in order, read as the merge asks for them. */
  chunks: ArrowChunks;
  /** Ends the read (again: nothing); the data file goes then if the copy was replaced or evicted meanwhile. */
  release(): void;
}

/** A copy being written: chunks as they come, then kept or dropped. */
export interface SortedCopyWriter {
  /**
   * Appends one chunk (a complete Arrow IPC stream; one without rows is left out, as a read of the
   * copy needs); a copy that outgrows the budget is dropped at once.
   */
  add(chunk: ArrowChunk): Promise<void>;
  /** Makes the copy the table's, replacing the one it had; what it holds, or undefined when it was dropped already. */
  commit(): Promise<{ rows: number; bytes: number } | undefined>;
  /** Drops what was written. */
  discard(): Promise<void>;
}

/** The sorted copies of one store's tables, in one directory. */
export class SortedHistoryCopies {
  /** Copies read by joins, and copies written, since the store opened. */
  readonly counts = { reads: 0, writes: 0 };
  /** Tables whose copy is being written: a second join meanwhile reads the engine instead. */
  private readonly writing = new Set<string>();
  /** Data files being read, with their readers. */
  private readonly readers = new Map<string, number>();
  /** Data files of copies replaced or evicted while being read: removed by their last reader's release. */
  private readonly unwanted = new Set<string>();

  private constructor(
    private readonly directory: string,
    /** The most the copies may take together. */
    private readonly maxBytes: number,
    /** Each table's copy, by table name, least recently used first. */
    private readonly manifests: Map<string, Manifest>,
  ) {}

  /** The copies in `directory` (made when missing); files that no manifest names (a crash's leftovers) are removed. */
  static async open(directory: string, maxBytes: number): Promise<SortedHistoryCopies> {
    await mkdir(directory, { recursive: true });
    const names = await readdir(directory);
    const found: Array<[string, Manifest, number]> = [];
    for (const name of names) {
      const table = name.endsWith(".json") ? name.slice(0, -".json".length) : undefined;
      if (!table || !TABLE_NAME.test(table)) continue;
      const manifest = await readManifest(join(directory, name));
      const data = manifest && (await stat(join(directory, manifest.file)).catch(() => undefined));
      if (manifest && data?.size === manifest.bytes) found.push([table, manifest, data.mtimeMs]);
      else await rm(join(directory, name), { force: true });
    }
    found.sort((a, b) => a[2] - b[2]);
    const manifests = new Map(found.map(([table, manifest]) => [table, manifest]));
    const kept = new Set([...manifests.values()].map((m) => m.file));
    for (const name of names) {
      if (!name.endsWith(".json") && !kept.has(name)) await rm(join(directory, name), { force: true });
    }
    return new SortedHistoryCopies(directory, maxBytes, manifests);
  }

  /**
   * A read of `table`'s copy at `version`, when it has one with every column of `columns`;
   * undefined otherwise. It must be released.
   */
  read(table: string, version: string, columns: readonly string[]): SortedCopyRead | undefined {
    const manifest = this.manifests.get(table);
    if (!manifest || manifest.version !== version || !columns.every((c) => manifest.columns.includes(c))) return undefined;
    // Most recently used last.
    this.manifests.delete(table);
    this.manifests.set(table, manifest);
    this.counts.reads++;
    const { file } = manifest;
    this.readers.set(file, (this.readers.get(file) ?? 0) + 1);
    let released = false;
    return {
      chunks: readChunks(join(this.directory, file), manifest),
      release: () => {
        if (released) return;
        released = true;
        const left = (this.readers.get(file) ?? 1) - 1;
        if (left > 0) this.readers.set(file, left);
        else {
          this.readers.delete(file);
          if (this.unwanted.delete(file)) void rm(join(this.directory, file), { force: true }).catch(() => undefined);
        }
      },
    };
  }

  /**
   * A writer of `table`'s copy at `version` with `columns`, expected to take about `expectedBytes`;
   * undefined when that would not fit in the budget even with every other copy gone, or when the
   * table's copy is being written already.
   */
  write(table: string, version: string, columns: readonly string[], expectedBytes: number): SortedCopyWriter | undefined {
    if (!TABLE_NAME.test(table) || this.writing.has(table) || expectedBytes > this.maxBytes) return undefined;
    this.writing.add(table);
    const file = `${table}.${randomUUID()}.arrows`;
    const path = join(this.directory, file);
    let handle: Promise<FileHandle> | undefined;
    let bytes = 0;
    let chunks = 0;
    let rows = 0;
    let ended = false;
    const end = async (keep: boolean) => {
      if (ended) return undefined;
      ended = true;
      this.writing.delete(table);
      await (await handle?.catch(() => undefined))?.close().catch(() => undefined);
      if (!keep || !handle) {
        await rm(path, { force: true });
        return undefined;
      }
      await this.keep(table, { version, columns: [...columns], file, bytes, chunks, rows });
      return { rows, bytes };
    };
    return {
      add: async (chunk) => {
        if (ended || chunk.rows === 0) return;
        if (bytes + HEADER_BYTES + chunk.ipc.byteLength > this.maxBytes) {
          await end(false);
          return;
        }
        handle ??= open(path, "w");
        const header = Buffer.alloc(HEADER_BYTES);
        header.writeBigUInt64LE(BigInt(chunk.ipc.byteLength));
        header.writeBigUInt64LE(BigInt(chunk.rows), 8);
        await (await handle).writev([header, chunk.ipc]);
        bytes += HEADER_BYTES + chunk.ipc.byteLength;
        chunks++;
        rows += chunk.rows;
      },
      commit: () => end(true),
      discard: async () => {
        await end(false);
      },
    };
  }

  /** Makes `manifest` the table's copy: room made first (the least recently used copies go), then the manifest renamed into place. */
  private async keep(table: string, manifest: Manifest): Promise<void> {
    const path = join(this.directory, manifest.file);
    try {
      const previous = this.manifests.get(table);
      this.manifests.delete(table);
      if (previous) await this.remove(table, previous);
      let total = [...this.manifests.values()].reduce((sum, m) => sum + m.bytes, 0);
      for (const [other, held] of this.manifests) {
        if (total + manifest.bytes <= this.maxBytes) break;
        this.manifests.delete(other);
        await this.remove(other, held);
        total -= held.bytes;
      }
      const temporary = join(this.directory, `${table}.json.${randomUUID()}`);
      await writeFile(temporary, JSON.stringify(manifest));
      await rename(temporary, join(this.directory, `${table}.json`));
      this.manifests.set(table, manifest);
      this.counts.writes++;
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
  }

  /** Removes a copy's files: its data file once no join reads it. */
  private async remove(table: string, manifest: Manifest): Promise<void> {
    await rm(join(this.directory, `${table}.json`), { force: true });
    if (this.readers.has(manifest.file)) this.unwanted.add(manifest.file);
    else await rm(join(this.directory, manifest.file), { force: true });
  }
}

/** A manifest from its file; undefined when it is unreadable or not one. */
async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<Manifest>;
    const { version, columns, file, bytes, chunks, rows } = parsed;
    const counts = [bytes, chunks, rows].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
    if (typeof version !== "string" || !Array.isArray(columns) || typeof file !== "string" || !counts) return undefined;
    if (!columns.every((c) => typeof c === "string") || file.includes("/")) return undefined;
    return parsed as Manifest;
  } catch {
    return undefined;
  }
}

/**
 * A copy's chunks in order, the next read while the merge works on this one. The chunks share a
 * ring of three buffers, read into over and over (a new 3.6 MB buffer per chunk kept the garbage
 * collector busy through the merge): a chunk's bytes hold until the chunk two after it is taken,
 * which is as long as the merge keeps anything of a chunk (its last row, until the next chunk's
 * rows come; every chunk has rows). Throws when the file is not what its manifest says.
 */
async function* readChunks(path: string, manifest: Manifest): ArrowChunks {
  const file = await open(path, "r");
  try {
    let position = 0;
    const header = Buffer.alloc(HEADER_BYTES);
    const ring: Buffer[] = [];
    let chunkNumber = 0;
    const next = async (): Promise<ArrowChunk | undefined> => {
      if (position >= manifest.bytes) return undefined;
      await readFully(file, header, position);
      const size = Number(header.readBigUInt64LE());
      const rows = Number(header.readBigUInt64LE(8));
      if (position + HEADER_BYTES + size > manifest.bytes) throw new Error(`sorted copy ${manifest.file} is damaged`);
      const slot = chunkNumber++ % RING;
      if ((ring[slot]?.byteLength ?? 0) < size) ring[slot] = Buffer.allocUnsafeSlow(size);
      const ipc = (ring[slot] as Buffer).subarray(0, size);
      await readFully(file, ipc, position + HEADER_BYTES);
      position += HEADER_BYTES + size;
      return { ipc, rows };
    };
    for (let ahead = next(); ; ) {
      const chunk = await ahead;
      if (!chunk) return;
      ahead = next();
      // Settled here too, so that a merge that stops early leaves no read unobserved.
      ahead.catch(() => undefined);
      yield chunk;
    }
  } finally {
    await file.close();
  }
}

/** Fills `buffer` from `position`, or throws at the end of the file. */
async function readFully(file: FileHandle, buffer: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < buffer.byteLength; ) {
    const { bytesRead } = await file.read(buffer, done, buffer.byteLength - done, position + done);
    if (bytesRead === 0) throw new Error("sorted copy ends early");
    done += bytesRead;
  }
}
