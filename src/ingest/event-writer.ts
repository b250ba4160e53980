/**
 * The write path of raw events, shared by WriteEvents, file imports and the Kafka source. A batch
 * is checked against the stream version's fields; every valid event gets an ingestion time and a
 * lateness verdict against its source's watermark; the events are appended to the stream's
 * offline history (durable, deduplicated) and, unless too late, applied to the online tiles of
 * every aggregation view over the stream. Only then is the batch acknowledged.
 */
import { randomUUID } from "node:crypto";
import { encodeEntityKey } from "../common/entity-key.js";
import { PreconditionError, ValidationError } from "../common/errors.js";
import type { FeatureValue } from "../common/feature-value.js";
import { KeyedMutex } from "../common/keyed-mutex.js";
import type { Entity, EventStreamVersion, FeatureViewVersion } from "../registry/model.js";
import { resourceName } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import type {
  EventSourceProgress,
  HistoryColumns,
  OfflineStore,
  OfflineTable,
  StoredEventQuery,
} from "../storage/offline/offline-store.js";
import type { OnlineStore } from "../storage/online/online-store.js";
import { type TileApplier, type TiledView, type TileEvent, tiledViewOf } from "../streams/tile-applier.js";
import { writeSource } from "../streams/tile-record.js";
import { type CheckedBatch, checkColumns, checkRows, streamSchema } from "./batch-check.js";
import type { WriteLimits } from "./feature-writer.js";
import { IngestClock } from "./ingest-clock.js";
import type { ColumnarRows, RowInput, RowRejection } from "./model.js";

/** Events read per page when building tiles from stored events. */
const BACKFILL_PAGE_EVENTS = 50_000;

/** The source of events written through WriteEvents. */
export const API_SOURCE = "api";

/**
 * The source of events imported from files: history being backfilled, which is not judged
 * against a watermark (it is old by nature) and counts online and offline as it is.
 */
export const IMPORT_SOURCE = "import";

/** A batch of events for one stream ("stream" or "stream@2"), as row messages or as columns. */
export interface EventBatchInput {
  project: string;
  stream: string;
  rows: RowInput[];
  columns?: ColumnarRows;
  /** Client-chosen id making a retried batch apply once; empty for none. */
  writeId: string;
  /** Where the batch comes from: WriteEvents (the default) or a file import. */
  source?: typeof API_SOURCE | typeof IMPORT_SOURCE;
}

/** What an event batch did; stored under its write id so a retry gets the same answer. */
export interface EventReceipt {
  writeId: string;
  acceptedCount: number;
  rejectedRows: RowRejection[];
  streamVersion: number;
  /** Accepted events older than the watermark: stored offline, not applied online. */
  tooLateCount: number;
  duplicate: boolean;
}

/** Events of one partition of an external source (Kafka), each with its position (offset), in order. */
export interface SourcedBatchInput {
  project: string;
  stream: string;
  /** "kafka:{topic}/{partition}". */
  source: string;
  rows: RowInput[];
  /** One per row, increasing. */
  positions: number[];
}

/** What a sourced batch did. Rejected rows are identified by their index in `rows`. */
export interface SourcedReceipt {
  acceptedCount: number;
  /** Events already stored by an earlier attempt (a replay after a crash or a rebalance). */
  replayedCount: number;
  tooLateCount: number;
  rejectedRows: RowRejection[];
  streamVersion: number;
}

/** Where the sources of a stream stand (see {@link EventWriter.status}). Times in microseconds. */
export interface StreamStatus {
  streamVersion: number;
  sources: Array<EventSourceProgress & { watermark?: number }>;
  eventCount: number;
  tooLateCount: number;
}

/** Told what the write path did, for metrics. */
export interface EventObserver {
  eventsStored(stream: string, source: string, accepted: number, tooLate: number): void;
  watermarkAdvanced(stream: string, source: string, watermarkMicros: number): void;
}

/** Where a source of a stream stands in this process. */
interface SourceState {
  /** The largest event time seen from the source (−∞ for none). */
  maxEventTime: number;
  /** Positions at or below this are stored offline already (external sources). */
  lastStoredPosition: number;
}

/** Writes batches of events to both stores. */
export class EventWriter {
  private readonly writeIds = new KeyedMutex();
  /** Sources serialize their batches, so lateness verdicts and positions follow the source's order. */
  private readonly sources = new KeyedMutex();
  private readonly sourceStates = new Map<string, Promise<SourceState>>();

  constructor(
    private readonly registry: Registry,
    private readonly offline: OfflineStore,
    private readonly online: OnlineStore,
    private readonly tiles: TileApplier,
    private readonly limits: WriteLimits,
    private readonly observer?: EventObserver,
    private readonly clock: IngestClock = new IngestClock(),
  ) {}

  /**
   * Writes one batch from the API. NOT_FOUND for an unknown stream or version,
   * FAILED_PRECONDITION for a deprecated one; bad events are reported in the receipt and never
   * block the good ones.
   */
  async writeBatch(input: EventBatchInput): Promise<EventReceipt> {
    const rowCount = input.columns ? input.columns.eventTimes.length : input.rows.length;
    if (input.columns && input.rows.length > 0)
      throw new ValidationError("ROWS_AND_COLUMNS", [
        { field: "columns", description: "send the batch as events or as columns, not both" },
      ]);
    if (rowCount > this.limits.maxRowsPerBatch) {
      const field = input.columns ? "columns.event_time_micros" : "events";
      throw new ValidationError("BATCH_TOO_LARGE", [
        { field, description: `${rowCount} events exceed the limit of ${this.limits.maxRowsPerBatch} per batch; split the batch` },
      ]);
    }
    const stream = await this.writableStream(input.project, input.stream);
    const entity = await this.registry.getEntity(stream.project, stream.entity);
    if (input.writeId === "") return this.storeApiBatch(stream, entity, input, randomUUID());
    const receiptKey = `${stream.project}/eventStreams/${stream.name}/${input.writeId}`;
    return this.writeIds.run(receiptKey, async () => {
      const previous = await this.online.getReceipt(receiptKey);
      if (previous) return { ...(previous as EventReceipt), duplicate: true };
      const receipt = await this.storeApiBatch(stream, entity, input, input.writeId);
      await this.online.putReceipt(receiptKey, receipt);
      return receipt;
    });
  }

  /**
   * Writes events of one partition of an external source, in position order. Events at or below
   * the highest position already stored offline are not stored again; they are applied online
   * again with the lateness verdict they were stored with, which the tiles' positions make a
   * no-op where they were applied before. So a batch replayed after a crash or a rebalance counts
   * every event exactly once.
   */
  async writeFromSource(input: SourcedBatchInput): Promise<SourcedReceipt> {
    const stream = await this.writableStream(input.project, input.stream);
    const entity = await this.registry.getEntity(stream.project, stream.entity);
    const table = eventsTableOf(stream, entity);
    const stateKey = `${table.project}/${table.view}/${table.version}/${input.source}`;
    return this.sources.run(stateKey, async () => {
      const checked = checkRows({ view: streamSchema(stream), entity, limits: this.limits, nowMicros: Date.now() * 1000 }, input.rows);
      const state = await this.sourceState(stateKey, table, input.source);
      const positions = checked.rowIndexes.map((row) => input.positions[row] as number);
      const replayed = positions.filter((p) => p <= state.lastStoredPosition);
      // A replayed event is applied online as it was stored: same ingestion time, same verdict.
      const stored = new Map<number, { ingestTime: number; tooLate: boolean }>();
      if (replayed.length > 0) {
        const query = { source: input.source, fromPosition: replayed[0], limit: replayed.length + 1 };
        for (const event of await this.offline.readEvents(table, query)) stored.set(event.position, event);
      }
      const firstIngestTime = this.clock.next(checked.rowIndexes.length);
      const ingestTimes = checked.rowIndexes.map(
        (_, i) => stored.get(positions[i] as number)?.ingestTime ?? checked.createdTimes[i] ?? firstIngestTime + i,
      );
      const fresh: number[] = [];
      const tooLate = checked.rowIndexes.map((_, i) => {
        const position = positions[i] as number;
        if (position <= state.lastStoredPosition) return stored.get(position)?.tooLate ?? false;
        fresh.push(i);
        return this.judge(stream, state, checked.eventTimes[i] as number);
      });
      const freshRows = selectRows(checked, fresh);
      if (fresh.length > 0) {
        await this.offline.ensureTable(table);
        const first = positions[fresh[0] as number] as number;
        const last = positions[fresh[fresh.length - 1] as number] as number;
        await this.offline.append(
          table,
          historyOf(
            freshRows,
            fresh.map((i) => ingestTimes[i] as number),
            `${input.source}@${first}-${last}`,
            {
              source: input.source,
              positions: fresh.map((i) => positions[i] as number),
              tooLate: fresh.map((i) => tooLate[i] as boolean),
            },
          ),
          `${input.source}@${first}-${last}`,
        );
        state.lastStoredPosition = last;
      }
      await this.applyOnline(stream, checked, ingestTimes, firstIngestTime, tooLate, input.source, positions);
      const lateCount = fresh.filter((i) => tooLate[i]).length;
      this.report(stream, input.source, state, fresh.length, lateCount);
      return {
        acceptedCount: checked.rowIndexes.length,
        replayedCount: checked.rowIndexes.length - fresh.length,
        tooLateCount: lateCount,
        rejectedRows: checked.rejections,
        streamVersion: stream.version,
      };
    });
  }

  /**
   * Where each source of a stream stands, from its stored history (the same on every replica):
   * events stored, too-late ones, the largest event time and the watermark.
   */
  async status(project: string, ref: string): Promise<StreamStatus> {
    const stream = await this.registry.resolveStreamRef(project, ref, "event_stream");
    const entity = await this.registry.getEntity(stream.project, stream.entity);
    const table = eventsTableOf(stream, entity);
    await this.offline.ensureTable(table);
    const sources = (await this.offline.eventSources(table)).map((source) => ({
      ...source,
      ...(source.maxEventTime !== undefined ? { watermark: source.maxEventTime - stream.allowedLatenessMillis * 1000 } : {}),
      ...(source.source === API_SOURCE || source.source === IMPORT_SOURCE ? { lastPosition: undefined } : {}),
    }));
    return {
      streamVersion: stream.version,
      sources,
      eventCount: sources.reduce((sum, s) => sum + s.eventCount, 0),
      tooLateCount: sources.reduce((sum, s) => sum + s.tooLateCount, 0),
    };
  }

  /**
   * Builds a new aggregation view version's tiles from its stream's stored events (all of them
   * ingested until now, in ingestion order, too-late ones left out as they were live). Applying
   * is idempotent per source position, so events the live path applies meanwhile count once.
   * Returns the number of events applied.
   */
  async backfillTiles(view: FeatureViewVersion, progress?: (events: number) => void): Promise<number> {
    if (!view.stream) return 0;
    const stream = await this.registry.getEventStream(view.project, view.stream, view.streamVersion);
    const table = eventsTableOf(stream, await this.registry.getEntity(stream.project, stream.entity));
    await this.offline.ensureTable(table);
    const [tiled] = await this.tiledViews([view]);
    const until = Date.now() * 1000;
    let after: StoredEventQuery["after"];
    let applied = 0;
    for (;;) {
      const page = await this.offline.readEvents(table, { ingestedUntil: until, limit: BACKFILL_PAGE_EVENTS, ...(after ? { after } : {}) });
      const events: TileEvent[] = [];
      for (const event of page) {
        if (event.tooLate) continue;
        const fields: Record<string, FeatureValue> = {};
        stream.fields.forEach((field, f) => {
          fields[field.name] = event.features[f] ?? null;
        });
        events.push({
          entityKey: encodeEntityKey(event.key),
          eventTime: event.eventTime,
          ingestTime: event.ingestTime,
          receiptTime: event.ingestTime,
          fields,
          // The source ids the live path used: replays of what it applied are no-ops.
          source: event.source === API_SOURCE || event.source === IMPORT_SOURCE ? writeSource(event.writeId) : event.source,
          position: event.position,
        });
      }
      await this.tiles.apply([tiled as TiledView], events);
      applied += events.length;
      progress?.(applied);
      if (page.length < BACKFILL_PAGE_EVENTS) return applied;
      after = page[page.length - 1];
    }
  }

  /** Forgets what this process knew of a source (another replica may have written it since), e.g. on a Kafka rebalance. */
  forgetSource(project: string, streamName: string, historyVersion: number, source: string): void {
    this.sourceStates.delete(`${project}/${streamName}/${historyVersion}/${source}`);
  }

  private async storeApiBatch(stream: EventStreamVersion, entity: Entity, input: EventBatchInput, writeId: string): Promise<EventReceipt> {
    const table = eventsTableOf(stream, entity);
    const target = { view: streamSchema(stream), entity, limits: this.limits, nowMicros: Date.now() * 1000 };
    const checked = input.columns ? checkColumns(target, input.columns) : checkRows(target, input.rows);
    const source = input.source ?? API_SOURCE;
    const state =
      source === API_SOURCE
        ? await this.sourceState(`${table.project}/${table.view}/${table.version}/${source}`, table, source)
        : undefined;
    // Every event of the batch gets its own ingestion time, so among equal event times the later one wins.
    const firstIngestTime = this.clock.next(input.columns ? input.columns.eventTimes.length : input.rows.length);
    const ingestTimes = checked.rowIndexes.map((index, i) => checked.createdTimes[i] ?? firstIngestTime + index);
    // Verdicts in arrival order; the rest of the batch runs concurrently with other batches.
    const tooLate = checked.eventTimes.map((eventTime) => (state ? this.judge(stream, state, eventTime) : false));
    const accepted = checked.rowIndexes.length;
    if (accepted > 0) {
      await this.offline.ensureTable(table);
      await this.offline.append(
        table,
        historyOf(checked, ingestTimes, writeId, { source, positions: checked.rowIndexes, tooLate }),
        writeId,
      );
      await this.applyOnline(stream, checked, ingestTimes, firstIngestTime, tooLate, writeSource(writeId), checked.rowIndexes);
    }
    const lateCount = tooLate.filter(Boolean).length;
    this.report(stream, source, state, accepted, lateCount);
    return {
      writeId,
      acceptedCount: accepted,
      rejectedRows: checked.rejections,
      streamVersion: stream.version,
      tooLateCount: lateCount,
      duplicate: false,
    };
  }

  /** Applies the accepted events that are not too late to the tiles of every aggregation view over the stream. */
  private async applyOnline(
    stream: EventStreamVersion,
    checked: CheckedBatch,
    ingestTimes: readonly number[],
    receiptTime: number,
    tooLate: readonly boolean[],
    source: string,
    positions: readonly number[],
  ): Promise<void> {
    const views = await this.registry.aggregationViewsOf(stream);
    if (views.length === 0) return;
    const events: TileEvent[] = [];
    for (let i = 0; i < checked.rowIndexes.length; i++) {
      if (tooLate[i]) continue;
      const fields: Record<string, FeatureValue> = {};
      stream.fields.forEach((field, f) => {
        fields[field.name] = checked.features[f]?.[i] ?? null;
      });
      events.push({
        entityKey: checked.entityKeys[i] as string,
        eventTime: checked.eventTimes[i] as number,
        ingestTime: ingestTimes[i] as number,
        receiptTime,
        fields,
        source,
        position: positions[i] as number,
      });
    }
    await this.tiles.apply(await this.tiledViews(views), events);
  }

  private async tiledViews(views: readonly FeatureViewVersion[]) {
    return Promise.all(
      views.map(async (view) =>
        tiledViewOf(view, await this.registry.getEventStream(view.project, view.stream as string, view.streamVersion)),
      ),
    );
  }

  /** The lateness verdict of the next event of a source, which then advances its watermark. */
  private judge(stream: EventStreamVersion, state: SourceState, eventTime: number): boolean {
    const late = eventTime < state.maxEventTime - stream.allowedLatenessMillis * 1000;
    if (eventTime > state.maxEventTime) state.maxEventTime = eventTime;
    return late;
  }

  /** A source's state, loaded from the offline history on first use. */
  private sourceState(key: string, table: OfflineTable, source: string): Promise<SourceState> {
    let state = this.sourceStates.get(key);
    if (!state) {
      state = this.offline.ensureTable(table).then(async () => {
        const stored = (await this.offline.eventSources(table)).find((s) => s.source === source);
        return {
          maxEventTime: stored?.maxEventTime ?? Number.NEGATIVE_INFINITY,
          lastStoredPosition: source === API_SOURCE ? Number.NEGATIVE_INFINITY : (stored?.lastPosition ?? Number.NEGATIVE_INFINITY),
        };
      });
      state.catch(() => this.sourceStates.get(key) === state && this.sourceStates.delete(key));
      this.sourceStates.set(key, state);
    }
    return state;
  }

  private report(stream: EventStreamVersion, source: string, state: SourceState | undefined, stored: number, tooLate: number): void {
    if (!this.observer) return;
    const label = `${stream.project}/${stream.name}`;
    this.observer.eventsStored(label, source, stored, tooLate);
    if (state && Number.isFinite(state.maxEventTime))
      this.observer.watermarkAdvanced(label, source, state.maxEventTime - stream.allowedLatenessMillis * 1000);
  }

  private async writableStream(project: string, ref: string): Promise<EventStreamVersion> {
    const stream = await this.registry.resolveStreamRef(project, ref, "event_stream");
    if (stream.state === "deprecated") {
      throw new PreconditionError("EVENT_STREAM_DEPRECATED", `event stream ${stream.name} is deprecated and takes no events`, {
        resource_name: resourceName(stream.project, "eventStreams", stream.name),
      });
    }
    return stream;
  }
}

/** The checked rows at `indexes` (positions in the accepted rows), as a batch of their own. */
function selectRows(checked: CheckedBatch, indexes: readonly number[]): CheckedBatch {
  if (indexes.length === checked.rowIndexes.length) return checked;
  const pick = <T>(values: ArrayLike<T>) => indexes.map((i) => values[i] as T);
  return {
    rowIndexes: pick(checked.rowIndexes),
    entityKeys: pick(checked.entityKeys),
    keys: checked.keys.map(pick),
    eventTimes: pick(checked.eventTimes),
    features: checked.features.map(pick),
    createdTimes: pick(checked.createdTimes),
    rejections: [],
  };
}

/** Checked events as history columns of the events table. */
function historyOf(
  checked: CheckedBatch,
  ingestTimes: readonly number[],
  writeId: string,
  events: HistoryColumns["events"],
): HistoryColumns {
  return {
    length: checked.rowIndexes.length,
    keys: checked.keys,
    eventTimes: checked.eventTimes,
    ingestTimes,
    writeId,
    features: checked.features,
    events,
  };
}

/** The offline table of a stream version's raw events: shared by its run of compatible versions. */
export function eventsTableOf(stream: EventStreamVersion, entity: Entity): OfflineTable {
  return {
    project: stream.project,
    view: stream.name,
    kind: "events",
    version: stream.historyVersion,
    keyColumns: entity.joinKeys.map((k) => ({ name: k.name, type: k.type })),
    featureColumns: stream.fields.map((f) => ({ name: f.name, type: f.type })),
  };
}
