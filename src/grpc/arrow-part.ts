/**
 * Result parts holding Arrow bytes, encoded by hand as field 3 (`arrow_ipc`, length-delimited) of
 * GetHistoricalFeaturesResponse and ReadTrainingDatasetResponse alike.
 *
 * The pieces of a part are views into one chunk of the engine's output. Where they lie back to back
 * in that chunk with room before them for the field's header (every chunk after the first: its
 * schema message, which the joined stream leaves out, comes first), the header is written into
 * that room and the part is a view of the chunk, one copy fewer (grpc-js still copies each message
 * to frame it). Copies matter here for the garbage collector more than for the copying: V8 starts a
 * full collection for about every 64 MB of buffers that outlive a scavenge or two, and the copy of
 * a 150 MB result cost the server about 0.2 s of a 4 s retrieval (a 1M-row training set, measured
 * in the training benchmark, 2026-11-27).
 */
import { LENGTH_DELIMITED, ScratchWriter } from "./wire-writer.js";

/** `arrow_ipc` in GetHistoricalFeaturesResponse and ReadTrainingDatasetResponse (proto/sluice/v1/training.proto). */
const ARROW_IPC_FIELD = 3;

/**
 * The encoded part of `pieces`. With `chunk`, which the caller gives up and whose views the pieces
 * are, the part is written in place when it can be: the bytes of `chunk` just before the pieces
 * may be overwritten. Without it, or without room, the pieces are copied.
 */
export function arrowPart(pieces: readonly Uint8Array[], chunk?: Uint8Array): Buffer {
  const length = pieces.reduce((sum, piece) => sum + piece.byteLength, 0);
  const header = fieldHeader(length);
  const first = pieces[0];
  if (chunk && first && first.buffer === chunk.buffer && backToBack(pieces)) {
    const start = first.byteOffset - header.length;
    if (start >= chunk.byteOffset && first.byteOffset + length <= chunk.byteOffset + chunk.byteLength) {
      const part = Buffer.from(chunk.buffer, start, header.length + length);
      part.set(header, 0);
      return part;
    }
  }
  return Buffer.concat([header, ...pieces]);
}

/** The tag of field 3, length-delimited, and the varint length. */
function fieldHeader(length: number): Uint8Array {
  const writer = new ScratchWriter(16);
  writer.tag(ARROW_IPC_FIELD, LENGTH_DELIMITED);
  writer.varint(length);
  return writer.take();
}

function backToBack(pieces: readonly Uint8Array[]): boolean {
  for (let i = 1; i < pieces.length; i++) {
    const previous = pieces[i - 1] as Uint8Array;
    const piece = pieces[i] as Uint8Array;
    if (piece.buffer !== previous.buffer || piece.byteOffset !== previous.byteOffset + previous.byteLength) return false;
  }
  return true;
}
