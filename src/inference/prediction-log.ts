/**
 * The prediction log: every prediction (stable, canary or shadow) is appended to the offline
 * store, which monitoring and the next training set read. Records are buffered and written in
 * batches off the response path, bounded while the store is slow or down (see {@link BufferedLog}).
 */
import type { Logger } from "pino";
import { BufferedLog } from "../common/buffered-log.js";
import type { OfflineStore, PredictionRecord } from "../storage/offline/offline-store.js";

/** Buffers prediction records and appends them to the offline store in batches. */
export class PredictionLog extends BufferedLog<PredictionRecord> {
  constructor(offline: OfflineStore, flushRows: number, flushMs: number, logger: Logger) {
    super("prediction log", (project, records) => offline.appendPredictions(project, records), flushRows, flushMs, logger);
  }
}
