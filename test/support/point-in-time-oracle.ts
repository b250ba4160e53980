/**
 * The reference point-in-time join: deliberately plain loops over every history row, written
 * straight from the rules, against which the engine's join is checked. Slow and obviously right.
 */
import type { FeatureValue } from "../../src/common/feature-value.js";

/** One history row of a view: key values in the view's key order, features in its feature order. */
export interface OracleHistoryRow {
  key: FeatureValue[];
  eventTime: number;
  ingestTime: number;
  features: FeatureValue[];
}

/** One view as the oracle sees it. */
export interface OracleView {
  /** Names of the view's key columns, looked up in the spine row. */
  keyNames: string[];
  ttlMicros: number;
  rows: OracleHistoryRow[];
}

/** One spine row: key values by name, and its time. */
export interface OracleSpineRow {
  key: Record<string, FeatureValue>;
  eventTime: number;
}

/**
 * For each spine row, for each view: the features of the latest row of the same entity with
 * event time <= the spine time (ties: the latest ingested); with `excludeLateIngested`, only
 * rows ingested at or before the spine time count; a row older than the TTL (when non-zero)
 * counts as none; none gives undefined.
 */
export function pointInTimeOracle(
  spine: OracleSpineRow[],
  views: OracleView[],
  excludeLateIngested: boolean,
): Array<Array<FeatureValue[] | undefined>> {
  return spine.map((spineRow) =>
    views.map((view) => {
      let best: OracleHistoryRow | undefined;
      for (const row of view.rows) {
        const sameEntity = view.keyNames.every((name, i) => row.key[i] === spineRow.key[name]);
        if (!sameEntity || row.eventTime > spineRow.eventTime) continue;
        if (excludeLateIngested && row.ingestTime > spineRow.eventTime) continue;
        if (view.ttlMicros > 0 && row.eventTime < spineRow.eventTime - view.ttlMicros) continue;
        const newer = !best || row.eventTime > best.eventTime || (row.eventTime === best.eventTime && row.ingestTime > best.ingestTime);
        if (newer) best = row;
      }
      return best?.features;
    }),
  );
}
