/**
 * The prediction log: every prediction (stable, canary or shadow) is appended to the offline
 * store, which monitoring and the next training set read. Records are buffered and written in
 * batches off the response path, bounded while the store is slow or down (see {@link BufferedLog}).
 */
import type { Logger } from "pino";
import { BufferedLog } from "../common/buffered-log.js";
import { mapInSlices } from "../common/slices.js";
import type { OfflineStore, PredictionRecord } from "../storage/offline/offline-store.js";

/**
 * A record, or a function making it when the batch is written: a prediction is logged in its own
 * turn (a label sent right after the answer must find it), its JSON made later, off the response path.
 */
export type LoggedPrediction = PredictionRecord | (() => PredictionRecord);

/** Buffers prediction records and appends them to the offline store in batches. */
export class PredictionLog extends BufferedLog<LoggedPrediction> {
  constructor(offline: OfflineStore, flushRows: number, flushMs: number, logger: Logger) {
    super(
      "prediction log",
      // The records' JSON is made here, at flush time, in slices as the formatting is.
      async (project, records) =>
        offline.appendPredictions(project, await mapInSlices(records, (r) => (typeof r === "function" ? r() : r))),
      flushRows,
      flushMs,
      logger,
    );
  }
}
