/**
 * The write path shared by every ingestion method. A batch is checked row by row against the
 * view version's schema; valid rows are appended to the offline history (durable, deduplicated
 * by write id) and then applied to the online store under the event-time rules. Only then is the
 * batch acknowledged, and its receipt recorded so that a retry with the same write id returns the
 * same answer without writing again.
 */
import { randomUUID } from "node:crypto";
import { encodeEntityKey } from "../common/entity-key.js";
import { PreconditionError, ValidationError } from "../common/errors.js";
import { type FeatureValue, hasNull } from "../common/feature-value.js";
import { KeyedMutex } from "../common/keyed-mutex.js";
import { NUMBER_VALUE_TYPES } from "../common/value-type.js";
import type { Entity, FeatureViewVersion } from "../registry/model.js";
import { resourceName } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import type { HistoryColumns, OfflineRow, OfflineStore, OfflineTable } from "../storage/offline/offline-store.js";
import { isNewer, type OnlineStore, type OnlineWrite, onlineTableOf } from "../storage/online/online-store.js";
import { type CheckLimits, checkColumns, checkRows, viewSchema } from "./batch-check.js";
import { IngestClock } from "./ingest-clock.js";
import type { WriteBatchInput, WriteReceipt } from "./model.js";

/** Limits a batch and its rows must respect. */
export interface WriteLimits extends CheckLimits {
  maxRowsPerBatch: number;
}

/**
 * Online writes held back to be applied together: only the newest per entity (by the online
 * store's own rule, {@link isNewer}), so a bulk load writes each entity once instead of once per
 * row. The store still compares each write with what it holds, so applying them later is safe.
 */
export class LatestOnlineWrites {
  private readonly tables = new Map<string, HeldTable>();
  private count = 0;

  /** Entities held, over every table. */
  get size(): number {
    return this.count;
  }

  /**
   * Keeps each row of a view version that is newer than the one held for its entity, copied into
   * the entity's slot: a bulk load of millions of rows allocates nothing per row (the writes of
   * the winners are made by {@link take}).
   */
  add(view: FeatureViewVersion, entityKeys: readonly string[], rows: HistoryColumns): void {
    const name = onlineTableOf(view);
    let table = this.tables.get(name);
    if (!table) {
      table = {
        view,
        slots: new Map(),
        keys: [],
        eventTimes: [],
        ingestTimes: [],
        values: view.features.map(() => []),
        present: view.features.map(() => []),
        absent: view.features.map((f) => (NUMBER_VALUE_TYPES.has(f.type) ? 0 : null)),
      };
      this.tables.set(name, table);
    }
    const { slots, keys, eventTimes, ingestTimes, values, present, absent } = table;
    const [onlyKey] = rows.keys.length === 1 ? rows.keys : [];
    // Per row, the slot it replaces the held row of, or -1: the rows are walked once to find them,
    // then each feature column is copied on its own (see holdNumbers).
    const slotOf = new Int32Array(rows.length).fill(-1);
    for (let row = 0; row < rows.length; row++) {
      const key = entityKeys[row] as string;
      const eventTime = rows.eventTimes[row] as number;
      const ingestTime = rows.ingestTimes[row] as number;
      // A single int64 key is looked up by its number: a lookup by the key's text compared freshly
      // made strings in a Map of 100k entities, most of a bulk load's holding (measured).
      const raw = onlyKey?.[row];
      const number = typeof raw === "bigint" ? Number(raw) : Number.NaN;
      const slotKey = Number.isSafeInteger(number) ? number : key;
      let slot = slots.get(slotKey);
      if (slot === undefined) {
        slot = keys.length;
        slots.set(slotKey, slot);
        keys.push(key);
        this.count++;
      } else {
        // isNewer, inlined: this loop runs once per row of a bulk load.
        const heldTime = eventTimes[slot] as number;
        if (eventTime < heldTime || (eventTime === heldTime && ingestTime <= (ingestTimes[slot] as number))) continue;
      }
      eventTimes[slot] = eventTime;
      ingestTimes[slot] = ingestTime;
      slotOf[row] = slot;
    }
    for (let f = 0; f < values.length; f++) {
      const column = rows.features[f] ?? [];
      const held = values[f] as FeatureValue[];
      const isPresent = present[f] as boolean[];
      if (absent[f] !== 0) holdValues(held, isPresent, column, slotOf, absent[f] as FeatureValue);
      else if (hasNull(column)) holdNullableNumbers(held as number[], isPresent, column as ArrayLike<number | null>, slotOf);
      else holdNumbers(held as number[], isPresent, column as ArrayLike<number>, slotOf);
    }
  }

  /** Takes the writes held, table by table, leaving the buffer empty. */
  take(): Array<{ table: string; writes: OnlineWrite[] }> {
    const taken = [...this.tables].map(([name, { view, keys, eventTimes, ingestTimes, values, present }]) => ({
      table: name,
      writes: keys.map((key, slot): OnlineWrite => {
        const record: Record<string, FeatureValue> = {};
        view.features.forEach((feature, f) => {
          record[feature.name] = present[f]?.[slot] ? (values[f]?.[slot] ?? null) : null;
        });
        return { key, record: { eventTime: eventTimes[slot] as number, ingestTime: ingestTimes[slot] as number, values: record } };
      }),
    }));
    this.tables.clear();
    this.count = 0;
    return taken;
  }
}

/*
 * The copies of one feature column into its slots, one function per kind of column so that each
 * reads one kind of array. A loop reading arrays of doubles and arrays of objects (a column with a
 * null, strings) at one place makes V8's optimised code turn the double arrays into arrays of
 * boxed numbers, and arrays made later at the same place start boxed (measured: the holding of a
 * 2 x 1M-row load with one nullable column took about 1 s instead of about 0.4 s).
 */

/** A number column without nulls. */
function holdNumbers(held: number[], present: boolean[], column: ArrayLike<number>, slotOf: Int32Array): void {
  for (let row = 0; row < slotOf.length; row++) {
    const slot = slotOf[row] as number;
    if (slot < 0) continue;
    held[slot] = column[row] as number;
    present[slot] = true;
  }
}

/** A number column with nulls: held as 0 where null, so the held array keeps its numbers unboxed. */
function holdNullableNumbers(held: number[], present: boolean[], column: ArrayLike<number | null>, slotOf: Int32Array): void {
  for (let row = 0; row < slotOf.length; row++) {
    const slot = slotOf[row] as number;
    if (slot < 0) continue;
    const value = column[row] ?? null;
    held[slot] = value ?? 0;
    present[slot] = value !== null;
  }
}

/** Any other column. */
function holdValues(
  held: FeatureValue[],
  present: boolean[],
  column: ArrayLike<FeatureValue>,
  slotOf: Int32Array,
  absent: FeatureValue,
): void {
  for (let row = 0; row < slotOf.length; row++) {
    const slot = slotOf[row] as number;
    if (slot < 0) continue;
    const value = column[row] ?? null;
    held[slot] = value ?? absent;
    present[slot] = value !== null;
  }
}

/** The newest row held per entity of one view version, as columns indexed by the entity's slot. */
interface HeldTable {
  view: FeatureViewVersion;
  /** By the entity's number (a single int64 key within 2^53) or its encoded key. */
  slots: Map<number | string, number>;
  keys: string[];
  eventTimes: number[];
  ingestTimes: number[];
  /** Per feature, in the view's order; where not `present`, the feature's `absent` placeholder. */
  values: FeatureValue[][];
  present: boolean[][];
  /**
   * 0 for number features, null for the rest: a number array that only ever holds numbers keeps
   * them unboxed, where a null among them would make it box every value (measured: most of the
   * time of a bulk load's holding).
   */
  absent: FeatureValue[];
}

/** Writes batches of feature rows to both stores. */
export class FeatureWriter {
  /** Batches with the same write id run one after another, so a retry racing its original sees its receipt. */
  private readonly writeIds = new KeyedMutex();

  constructor(
    private readonly registry: Registry,
    private readonly offline: OfflineStore,
    private readonly online: OnlineStore,
    private readonly limits: WriteLimits,
    private readonly clock: IngestClock = new IngestClock(),
  ) {}

  /**
   * Writes one batch: to both stores; to the offline store only when `online` is false; or offline
   * now and online later when `online` is a {@link LatestOnlineWrites} the caller applies with
   * {@link applyOnline}. NOT_FOUND for an unknown view or version, FAILED_PRECONDITION for a
   * deprecated view; bad rows are reported in the receipt and never block the good ones.
   */
  async writeBatch(input: WriteBatchInput, options: { online?: boolean | LatestOnlineWrites } = {}): Promise<WriteReceipt> {
    const field = input.columns ? "columns.event_time_micros" : "rows";
    const rowCount = input.columns ? input.columns.eventTimes.length : input.rows.length;
    if (input.columns && input.rows.length > 0) {
      throw new ValidationError("ROWS_AND_COLUMNS", [{ field: "columns", description: "send the batch as rows or as columns, not both" }]);
    }
    if (rowCount > this.limits.maxRowsPerBatch) {
      throw new ValidationError("BATCH_TOO_LARGE", [
        { field, description: `${rowCount} rows exceed the limit of ${this.limits.maxRowsPerBatch} per batch; split the batch` },
      ]);
    }
    const view = await this.registry.resolveViewRef(input.project, input.featureView, "feature_view");
    if (view.state === "deprecated") {
      throw new PreconditionError(
        "FEATURE_VIEW_DEPRECATED",
        `feature view ${view.name} is deprecated and takes no writes; apply it again to revive it`,
        {
          resource_name: resourceName(view.project, "featureViews", view.name),
        },
      );
    }
    if (view.stream) {
      throw new PreconditionError(
        "AGGREGATION_VIEW_NOT_WRITABLE",
        `feature view ${view.name} aggregates event stream ${view.stream}: its values come from events; write them with WriteEvents`,
        { resource_name: resourceName(view.project, "featureViews", view.name) },
      );
    }
    const entity = await this.registry.getEntity(view.project, view.entity);
    if (input.writeId === "") return this.store(view, entity, input, options);
    const receiptKey = `${view.project}/${view.name}/${input.writeId}`;
    return this.writeIds.run(receiptKey, async () => {
      const previous = await this.online.getReceipt(receiptKey);
      // Receipt keys of feature views and of streams never meet ("view/id" vs "eventStreams/stream/id").
      if (previous) {
        // Online writes held back by the first attempt may have been lost with it (a crash before they
        // were applied): a retry holds them again, which the store's compare-and-set makes harmless.
        if (options.online instanceof LatestOnlineWrites) await this.store(view, entity, input, { online: options.online, offline: false });
        return { ...(previous as WriteReceipt), duplicate: true };
      }
      const receipt = await this.store(view, entity, input, options);
      await this.online.putReceipt(receiptKey, receipt);
      return receipt;
    });
  }

  /** Checks the rows and writes the valid ones to both stores. */
  private async store(
    view: FeatureViewVersion,
    entity: Entity,
    input: WriteBatchInput,
    options: { online?: boolean | LatestOnlineWrites; offline?: false },
  ): Promise<WriteReceipt> {
    const writeId = input.writeId || randomUUID();
    const target = { view: viewSchema(view), entity, limits: this.limits, nowMicros: Date.now() * 1000 };
    const checked = input.columns ? checkColumns(target, input.columns) : checkRows(target, input.rows);
    // Every row of the batch gets its own ingestion time, so among equal event times the later row wins.
    const firstIngestTime = this.clock.next(input.columns ? input.columns.eventTimes.length : input.rows.length);
    const accepted = checked.rowIndexes.length;
    if (accepted > 0) {
      const rows: HistoryColumns = {
        length: accepted,
        keys: checked.keys,
        eventTimes: checked.eventTimes,
        // A created time from the source system stands in for the time of receipt.
        ingestTimes: checked.rowIndexes.map((index, row) => checked.createdTimes[row] ?? firstIngestTime + index),
        writeId,
        features: checked.features,
      };
      if (options.offline !== false) {
        const table = offlineTableOf(view, entity);
        await this.offline.ensureTable(table);
        await this.offline.append(table, rows, writeId);
      }
      if (options.online instanceof LatestOnlineWrites) options.online.add(view, checked.entityKeys, rows);
      else if (options.online !== false) await this.online.write(onlineTableOf(view), onlineWritesOf(view, checked.entityKeys, rows));
    }
    return { writeId, acceptedCount: accepted, rejectedRows: checked.rejections, featureViewVersion: view.version, duplicate: false };
  }

  /** Applies the online writes a {@link LatestOnlineWrites} holds, and empties it. */
  async applyOnline(held: LatestOnlineWrites): Promise<void> {
    for (const { table, writes } of held.take()) await this.online.write(table, writes);
  }
}

/** The online store writes of rows of a view version, whose entity keys are already encoded. */
function onlineWritesOf(view: FeatureViewVersion, entityKeys: readonly string[], rows: HistoryColumns): OnlineWrite[] {
  const writes: OnlineWrite[] = new Array(rows.length);
  for (let row = 0; row < rows.length; row++) writes[row] = onlineWriteOfColumns(view, entityKeys[row] as string, rows, row);
  return writes;
}

/** The online store write of row `row` of columns of a view version (features in the view's order). */
function onlineWriteOfColumns(view: FeatureViewVersion, key: string, rows: HistoryColumns, row: number): OnlineWrite {
  const values: Record<string, FeatureValue> = {};
  view.features.forEach((feature, f) => {
    values[feature.name] = rows.features[f]?.[row] ?? null;
  });
  return { key, record: { eventTime: rows.eventTimes[row] as number, ingestTime: rows.ingestTimes[row] as number, values } };
}

/** The online store write of one row of a view version (features in the view's order). */
export function onlineWriteOf(
  view: FeatureViewVersion,
  row: Pick<OfflineRow, "key" | "eventTime" | "ingestTime" | "features">,
): OnlineWrite {
  const values: Record<string, FeatureValue> = {};
  view.features.forEach((feature, i) => {
    values[feature.name] = row.features[i] ?? null;
  });
  return { key: encodeEntityKey(row.key), record: { eventTime: row.eventTime, ingestTime: row.ingestTime, values } };
}

/**
 * The offline history table of a view version: its entity's join keys, then its features, in the
 * table of its history version (shared by a run of compatible versions).
 */
export function offlineTableOf(view: FeatureViewVersion, entity: Entity): OfflineTable {
  return {
    project: view.project,
    view: view.name,
    version: view.historyVersion,
    keyColumns: entity.joinKeys.map((k) => ({ name: k.name, type: k.type })),
    featureColumns: view.features.map((f) => ({ name: f.name, type: f.type })),
  };
}
