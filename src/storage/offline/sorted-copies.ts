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
 * renamed, the data synced to disk first), so a copy that a crash left half written is never
 * read. A copy found damaged when read (a chunk past its file's end, a length or row count no
 * writer makes, a file gone) is dropped and the join reading it fails with {@link DamagedCopyError},
 * which the store answers by joining in the engine. The copies together stay within a byte budget:
 * the least recently used go first, room is made before a copy is written, and a copy that would
 * not fit, or outgrows its room, is not written (nor tried again at that version).
 */
import { randomUUID } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
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
const DATA_SUFFIX = ".arrows";
/** The largest chunk a copy holds: the engine's blocks are a few MB (larger is a damaged length). */
const MAX_CHUNK_BYTES = 1 << 30;

/** A copy that cannot be read as its manifest says; it is dropped when found so. */
export class DamagedCopyError extends Error {
  override readonly name = "DamagedCopyError";
}

/** Whether `file` is a name this store gives `table`'s data files (`<table>.<uuid>.arrows`). */
function dataFileOf(table: string, file: string): boolean {
  const id = file.startsWith(`${table}.`) && file.endsWith(DATA_SUFFIX) ? file.slice(table.length + 1, -DATA_SUFFIX.length) : "";
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
}

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
   * copy needs). False once the copy is dropped (it outgrew its room): the rest need not be read.
   */
  add(chunk: ArrowChunk): Promise<boolean>;
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
  /** Data files of copies replaced or evicted while being read, with their sizes: removed by their last reader's release. */
  private readonly unwanted = new Map<string, number>();
  /** Each table's version a copy of which would not fit: not tried again. */
  private readonly tooLarge = new Map<string, string>();

  private constructor(
    private readonly directory: string,
    /** The most the copies may take together. */
    private readonly maxBytes: number,
    /** Each table's copy, by table name, least recently used first. */
    private readonly manifests: Map<string, Manifest>,
  ) {}

  /**
   * The copies in `directory` (made when missing), within `maxBytes` (the least recently used go
   * when it was lowered); files that no manifest names (a crash's leftovers) are removed, and
   * anything that is not a file is left alone.
   */
  static async open(directory: string, maxBytes: number): Promise<SortedHistoryCopies> {
    await mkdir(directory, { recursive: true });
    const entries = (await readdir(directory, { withFileTypes: true })).filter((entry) => entry.isFile());
    const found: Array<[string, Manifest, number]> = [];
    for (const { name } of entries) {
      const table = name.endsWith(".json") ? name.slice(0, -".json".length) : undefined;
      if (!table || !TABLE_NAME.test(table)) continue;
      const manifest = await readManifest(join(directory, name), table);
      const data = manifest && (await stat(join(directory, manifest.file)).catch(() => undefined));
      if (manifest && data?.isFile() && data.size === manifest.bytes) found.push([table, manifest, data.mtimeMs]);
      else await rm(join(directory, name), { force: true });
    }
    found.sort((a, b) => a[2] - b[2]);
    const copies = new SortedHistoryCopies(directory, maxBytes, new Map(found.map(([table, manifest]) => [table, manifest])));
    const kept = new Set(found.map(([, manifest]) => manifest.file));
    for (const { name } of entries) {
      if (!name.endsWith(".json") && !kept.has(name)) await rm(join(directory, name), { force: true });
    }
    await copies.makeRoom(0);
    return copies;
  }

  /** Whether a copy of `table` at `version` is kept (a read may still find it gone or damaged). */
  has(table: string, version: string): boolean {
    return this.manifests.get(table)?.version === version;
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
      chunks: this.checkedChunks(table, manifest),
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

  /** A copy's chunks ({@link readChunks}); a copy found damaged is dropped, and the error is a {@link DamagedCopyError}. */
  private async *checkedChunks(table: string, manifest: Manifest): ArrowChunks {
    try {
      yield* readChunks(join(this.directory, manifest.file), manifest.bytes);
    } catch (error) {
      if (this.manifests.get(table) === manifest) {
        this.manifests.delete(table);
        await this.remove(table, manifest);
      }
      throw error instanceof DamagedCopyError ? error : new DamagedCopyError(`sorted copy of ${table} unreadable: ${String(error)}`);
    }
  }

  /**
   * A writer of `table`'s copy at `version` with `columns`, expected to take about `expectedBytes`
   * (room made for it first); undefined when that would not fit in the budget even with every
   * other copy gone, when a copy at this version outgrew its room before, or when the table's copy
   * is being written already.
   */
  async write(table: string, version: string, columns: readonly string[], expectedBytes: number): Promise<SortedCopyWriter | undefined> {
    if (!TABLE_NAME.test(table) || this.writing.has(table) || this.tooLarge.get(table) === version) return undefined;
    if (expectedBytes > this.maxBytes) {
      this.tooLarge.set(table, version);
      return undefined;
    }
    this.writing.add(table);
    try {
      await this.makeRoom(expectedBytes, table);
    } catch (error) {
      this.writing.delete(table);
      throw error;
    }
    const file = `${table}.${randomUUID()}${DATA_SUFFIX}`;
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
      const opened = await handle?.catch(() => undefined);
      try {
        // On disk before the manifest names it: a crash after the rename must not find zeros.
        if (keep && opened) await opened.sync();
      } finally {
        await opened?.close().catch(() => undefined);
      }
      if (!keep || !opened) {
        await rm(path, { force: true });
        return undefined;
      }
      await this.keep(table, { version, columns: [...columns], file, bytes, chunks, rows });
      return { rows, bytes };
    };
    return {
      add: async (chunk) => {
        if (ended) return false;
        if (chunk.rows === 0) return true;
        const size = HEADER_BYTES + chunk.ipc.byteLength;
        if (bytes + size > this.maxBytes || chunk.ipc.byteLength > MAX_CHUNK_BYTES) {
          this.tooLarge.set(table, version);
          await end(false);
          return false;
        }
        handle ??= open(path, "w");
        const header = Buffer.alloc(HEADER_BYTES);
        header.writeBigUInt64LE(BigInt(chunk.ipc.byteLength));
        header.writeBigUInt64LE(BigInt(chunk.rows), 8);
        const { bytesWritten } = await (await handle).writev([header, chunk.ipc]);
        if (bytesWritten !== size) throw new Error(`sorted copy of ${table}: ${bytesWritten} of ${size} bytes written`);
        bytes += size;
        chunks++;
        rows += chunk.rows;
        return true;
      },
      commit: () => end(true),
      discard: async () => {
        await end(false);
      },
    };
  }

  /**
   * Evicts the least recently used copies (not `keeping`'s) until `bytes` more fit in the budget
   * beside the others and the files of evicted copies still being read.
   */
  private async makeRoom(bytes: number, keeping?: string): Promise<void> {
    const held = () =>
      [...this.manifests].reduce((sum, [table, m]) => sum + (table === keeping ? 0 : m.bytes), 0) +
      [...this.unwanted.values()].reduce((sum, size) => sum + size, 0);
    for (const [other, manifest] of [...this.manifests]) {
      if (held() + bytes <= this.maxBytes) break;
      if (other === keeping) continue;
      this.manifests.delete(other);
      await this.remove(other, manifest);
    }
  }

  /** Makes `manifest` the table's copy, replacing the one it had, room made first, the manifest renamed into place. */
  private async keep(table: string, manifest: Manifest): Promise<void> {
    const path = join(this.directory, manifest.file);
    try {
      const previous = this.manifests.get(table);
      this.manifests.delete(table);
      if (previous) await this.remove(table, previous);
      await this.makeRoom(manifest.bytes);
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
    if (this.readers.has(manifest.file)) this.unwanted.set(manifest.file, manifest.bytes);
    else await rm(join(this.directory, manifest.file), { force: true });
  }
}

/** A manifest of `table`'s copy from its file; undefined when it is unreadable, not one, or names a data file not of the table. */
async function readManifest(path: string, table: string): Promise<Manifest | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<Manifest>;
    const { version, columns, file, bytes, chunks, rows } = parsed;
    const counts = [bytes, chunks, rows].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
    if (typeof version !== "string" || !Array.isArray(columns) || typeof file !== "string" || !counts) return undefined;
    if (!columns.every((c) => typeof c === "string") || !dataFileOf(table, file)) return undefined;
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
async function* readChunks(path: string, bytes: number): ArrowChunks {
  const file = await open(path, "r");
  try {
    let position = 0;
    const header = Buffer.alloc(HEADER_BYTES);
    const ring: Buffer[] = [];
    let chunkNumber = 0;
    const next = async (): Promise<ArrowChunk | undefined> => {
      if (position >= bytes) return undefined;
      await readFully(file, header, position);
      const size = Number(header.readBigUInt64LE());
      const rows = Number(header.readBigUInt64LE(8));
      // Every chunk has rows (a read's buffers are reused on that promise) and fits in its file.
      if (rows <= 0 || size > MAX_CHUNK_BYTES || position + HEADER_BYTES + size > bytes)
        throw new DamagedCopyError(`sorted copy ${basename(path)} is damaged at byte ${position}`);
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
