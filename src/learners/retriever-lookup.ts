/**
 * Point-in-time values for labels keyed by entity, from the same retrieval that builds training
 * sets: one inline spine of the labels' entities and event times, joined in the offline store
 * with late-ingested values excluded, so an example never sees a value that was not there at its
 * event time.
 */
import type { FeatureValue, TaggedValue } from "../common/feature-value.js";
import { pinnedRef } from "../models/model-registry.js";
import { arrowRows } from "../training/arrow-values.js";
import type { HistoricalRetriever } from "../training/historical-retriever.js";
import type { PointInTimeLookup } from "./label-joiner.js";

/** {@link PointInTimeLookup} over the historical retriever. */
export class RetrieverLookup implements PointInTimeLookup {
  constructor(private readonly retriever: HistoricalRetriever) {}

  async valuesAt(
    project: string,
    refs: readonly string[],
    rows: ReadonlyArray<{ joinKeys: Record<string, TaggedValue>; eventTime: number }>,
  ): Promise<Array<Record<string, FeatureValue>>> {
    const plan = await this.retriever.plan({
      project,
      features: [...refs],
      featureService: "",
      spine: { kind: "inline" },
      fullFeatureNames: true,
      excludeLateIngested: true,
      emitSpineIndex: false,
    });
    const spine = rows.map((row) => ({ entityKey: row.joinKeys, eventTime: row.eventTime, extras: {} }));
    const retrieval = await this.retriever.retrieve(
      plan,
      (async function* () {
        yield { rows: spine };
      })(),
    );
    const featureColumns = retrieval.columns.flatMap((column, i) =>
      column.role === "feature" && column.feature ? [{ i, ref: pinnedRef(column.feature) }] : [],
    );
    const values: Array<Record<string, FeatureValue>> = [];
    for await (const chunk of retrieval.chunks) {
      for (const cells of arrowRows(chunk.ipc)) {
        values.push(Object.fromEntries(featureColumns.map(({ i, ref }) => [ref, (cells[i] ?? null) as FeatureValue])));
      }
    }
    return values;
  }
}
