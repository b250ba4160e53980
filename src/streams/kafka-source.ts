/**
 * The Kafka source: Sluice consumes the configured topics as one consumer group, and every replica
 * with the same `kafka.groupId` takes a share of the partitions. Per partition batch, each message
 * is decoded (a JSON object, or a Protobuf message) into an event of the topic's stream; the events
 * go through {@link EventWriter.writeFromSource} with their offsets as positions; messages that
 * cannot be decoded and events the writer rejects go to the source's dead-letter topic; and only
 * then is the offset after the batch committed. The writer stores each offset once offline and
 * applies it once to the online tiles, so a batch replayed after a crash or a rebalance (its
 * offset was not committed) counts every event exactly once. Kafka specifics stay in this file.
 */

// kafkajs is pure JavaScript; the librdkafka-based clients do not build on every machine Sluice runs on.
import { type Consumer, type EachBatchPayload, type IHeaders, Kafka, type KafkaMessage, logLevel, type Producer } from "kafkajs";
import type { Logger } from "pino";
// protobufjs parses a user's .proto file at run time (a source is configured with a file and a
// message type, not with generated code); @bufbuild/protobuf, the server's own runtime, cannot.
import protobuf from "protobufjs";
import type { FieldViolation } from "../common/errors.js";
import type { TaggedValue } from "../common/feature-value.js";
import type { ValueType } from "../common/value-type.js";
import { ConfigError, type KafkaSourceConfig, type SluiceConfig } from "../config/config.js";
import type { EventWriter } from "../ingest/event-writer.js";
import { fileValueToTagged } from "../ingest/file-values.js";
import type { RowInput } from "../ingest/model.js";
import type { Learning } from "../learners/learning.js";
import type { Entity, EventStreamVersion } from "../registry/model.js";
import type { Registry } from "../registry/registry.js";
import { labelFromMessage } from "./kafka-labels.js";

/** Why a message went to the dead-letter topic. */
export type DeadLetterReason =
  /** The value is not a JSON object, or not a message of the configured Protobuf type. */
  | "UNDECODABLE"
  /** It decoded, but is not a valid event of the stream (a missing key or time, a wrong type, an unknown field). */
  | "INVALID_EVENT"
  /** It decoded, but is not a valid label for the source's learner (docs/learning.md). */
  | "INVALID_LABEL";

/** Told what the source dead-lettered, for metrics. */
export interface KafkaSourceObserver {
  messagesDeadLettered(topic: string, reason: DeadLetterReason, count: number): void;
}

/** What the source writes through and reads definitions from. */
export interface KafkaSourceDeps {
  registry: Pick<Registry, "resolveStreamRef" | "getEntity">;
  writer: Pick<EventWriter, "writeFromSource" | "forgetSource">;
  /** Where the labels of sources with a `learner` go. */
  labels?: Pick<Learning, "appendFromSource">;
  logger: Logger;
  observer?: KafkaSourceObserver;
}

/** Headers of a dead letter: why, and where the message was. The message's own headers are kept beside them. */
export const DEAD_LETTER_HEADERS = {
  reason: "sluice-dlq-reason",
  error: "sluice-dlq-error",
  topic: "sluice-dlq-original-topic",
  partition: "sluice-dlq-original-partition",
  offset: "sluice-dlq-original-offset",
  stream: "sluice-dlq-stream",
} as const;

/** A message's value as a plain object of field values, or why it is not one. */
type Decoded = { fields: Record<string, unknown> } | { problem: string };

/** Decodes message values of one source. */
type MessageDecoder = (value: Buffer | null) => Decoded;

/** One configured source, ready to consume. */
interface ActiveSource {
  config: KafkaSourceConfig;
  decode: MessageDecoder;
  deadLetterTopic: string;
}

/** A message that goes to the dead-letter topic instead of the stream. */
interface DeadLetter {
  message: KafkaMessage;
  reason: DeadLetterReason;
  error: string;
}

/** Consumes the configured topics into their event streams; see the file comment. */
export class KafkaSource {
  private readonly sources = new Map<string, ActiveSource>();
  /** Partitions ("topic/partition") assigned by the last rebalance whose writer state is not yet reloaded. */
  private readonly assignedAnew = new Set<string>();
  private readonly stopped = new AbortController();
  private readonly logger: Logger;
  private consumer?: Consumer;
  private producer?: Producer;
  private running?: Promise<void>;
  private deadLetterCount = 0;

  /** Checks every source's decoding setup (a Protobuf source's file and type); throws {@link ConfigError} naming the key. */
  constructor(
    private readonly config: SluiceConfig["kafka"],
    private readonly deps: KafkaSourceDeps,
  ) {
    this.logger = deps.logger.child({ component: "kafka-source" });
    config.sources.forEach((source, i) => {
      this.sources.set(source.topic, {
        config: source,
        decode: source.format === "protobuf" ? protobufDecoder(source, `kafka.sources.${i}`) : decodeJson,
        deadLetterTopic: source.deadLetterTopic ?? `${source.topic}.dlq`,
      });
    });
  }

  /** Messages sent to dead-letter topics by this process since it started. */
  get deadLettered(): number {
    return this.deadLetterCount;
  }

  /** Starts consuming in the background; a broker that cannot be reached is retried (and logged) until {@link stop}. */
  start(): void {
    this.running ??= this.connectUntilStopped();
  }

  /** Stops consuming: the batch in progress finishes (or is left uncommitted), the group is left, and clients close. */
  async stop(): Promise<void> {
    this.stopped.abort();
    await this.running;
    await this.consumer
      ?.disconnect()
      .catch((error: unknown) => this.logger.warn({ err: error }, "kafka consumer did not disconnect cleanly"));
    await this.producer
      ?.disconnect()
      .catch((error: unknown) => this.logger.warn({ err: error }, "kafka producer did not disconnect cleanly"));
    this.logger.info({ deadLettered: this.deadLetterCount }, "kafka source stopped");
  }

  private async connectUntilStopped(): Promise<void> {
    for (let attempt = 0; !this.stopped.signal.aborted; attempt++) {
      try {
        await this.connect();
        return;
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        const delayMs = retryDelay(attempt, this.config.maxRetryDelayMs);
        this.logger.error({ err: error, brokers: this.config.brokers, retryInMs: delayMs }, "kafka source could not start; retrying");
        await this.consumer?.disconnect().catch(() => {});
        await this.producer?.disconnect().catch(() => {});
        await sleep(delayMs, this.stopped.signal);
      }
    }
  }

  private async connect(): Promise<void> {
    const { config } = this;
    const kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      connectionTimeout: config.connectionTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      logLevel: logLevel.INFO,
      logCreator: () => (entry) => this.logKafka(entry.level, entry.namespace, entry.log),
    });
    this.producer = kafka.producer();
    this.consumer = kafka.consumer({
      groupId: config.groupId,
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: config.heartbeatIntervalMs,
      rebalanceTimeout: config.rebalanceTimeoutMs,
      maxWaitTimeInMs: config.maxWaitTimeMs,
      maxBytesPerPartition: config.maxBytesPerPartition,
    });
    const consumer = this.consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // Another replica may have written these partitions since this process last held them: the
      // writer reloads where each stands (its last stored offset) before the next batch.
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) this.assignedAnew.add(`${topic}/${partition}`);
      }
      this.logger.info(
        { groupId: payload.groupId, memberId: payload.memberId, assignment: payload.memberAssignment },
        "kafka source joined its group",
      );
    });
    const producer = this.producer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error({ err: payload.error, groupId: payload.groupId, restart: payload.restart }, "kafka consumer crashed");
      // kafkajs restarts the consumer after a retriable error; after any other, the source starts over.
      if (payload.restart || this.stopped.signal.aborted) return;
      this.running = (async () => {
        await consumer.disconnect().catch(() => {});
        await producer.disconnect().catch(() => {});
        await sleep(this.config.maxRetryDelayMs, this.stopped.signal);
        await this.connectUntilStopped();
      })();
    });
    await this.producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.sources.keys()], fromBeginning: config.fromBeginning });
    // One batch at a time: a batch still being written when the group rebalances would otherwise
    // overlap with the partition's next owner replaying it.
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.consumeBatch(payload),
    });
    this.logger.info({ brokers: config.brokers, groupId: config.groupId, topics: [...this.sources.keys()] }, "kafka source is consuming");
  }

  /**
   * One partition's batch: decode, write, dead-letter, commit. Store and dead-letter failures are
   * retried in place (the partition waits; nothing is skipped); the batch is given up, uncommitted,
   * when the partition is taken away or the source stops, and whoever consumes it next replays it.
   */
  private async consumeBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const source = this.sources.get(batch.topic);
    const last = batch.messages[batch.messages.length - 1];
    if (!source || !last) return;
    const started = performance.now();
    const partitionLog = {
      topic: batch.topic,
      partition: batch.partition,
      firstOffset: batch.messages[0]?.offset,
      lastOffset: last.offset,
    };
    const keepGoing = () => isRunning() && !isStale() && !this.stopped.signal.aborted;
    // Heartbeats while the stores work, so a slow batch does not cost this replica its partitions.
    const heartbeats = setInterval(() => heartbeat().catch(() => {}), this.config.heartbeatIntervalMs);
    try {
      const written = await this.retrying("store", partitionLog, keepGoing, () =>
        source.config.learner !== undefined
          ? this.writeLabels(source, batch.partition, batch.messages)
          : this.writeBatch(source, batch.partition, batch.messages),
      );
      if (!written) return;
      if (written.deadLetters.length > 0 && !("deadLettersSent" in written)) {
        const sent = await this.retrying("dead-letter", partitionLog, keepGoing, () =>
          this.sendDeadLetters(source, batch.partition, written.deadLetters),
        );
        if (!sent) return;
      }
      resolveOffset(last.offset);
      try {
        const next = (BigInt(last.offset) + 1n).toString();
        await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
      } catch (error) {
        // The batch is durable: its next consumer replays it, and the writer counts nothing twice.
        this.logger.warn({ ...partitionLog, err: error }, "kafka offset commit failed; the batch will be replayed without effect");
      }
      const fields = {
        ...partitionLog,
        target: targetOf(source.config),
        messages: batch.messages.length,
        accepted: written.accepted,
        replayed: written.replayed,
        tooLate: written.tooLate,
        deadLettered: written.deadLetters.length,
        durationMs: Math.round(performance.now() - started),
      };
      if (written.deadLetters.length > 0)
        this.logger.warn({ ...fields, firstError: written.deadLetters[0]?.error }, "kafka batch stored, with dead letters");
      else if (written.replayed > 0) this.logger.info(fields, "kafka batch stored, replayed events counted once");
      else this.logger.debug(fields, "kafka batch stored");
    } finally {
      clearInterval(heartbeats);
    }
  }

  /**
   * Decodes a batch's label messages and appends them to the learner's log, each once (the log
   * keeps the partition's next offset with the entries). The new messages it refuses are
   * dead-lettered before the append moves that offset, so a crash in between replays them rather
   * than losing them; returned with `deadLettersSent`.
   */
  private async writeLabels(source: ActiveSource, partition: number, messages: KafkaMessage[]) {
    const { config } = source;
    if (!this.deps.labels) throw new Error("kafka source has a learner but the server gave it no label sink");
    const undecodable = new Set<number>();
    const labels = messages.map((message) => {
      const offset = Number(message.offset);
      const fields = source.decode(message.value);
      if ("problem" in fields) undecodable.add(offset);
      return { offset, label: "problem" in fields ? fields.problem : labelFromMessage(fields.fields, config.eventTimeUnit) };
    });
    const byOffset = new Map(messages.map((message) => [Number(message.offset), message]));
    const deadLetters: DeadLetter[] = [];
    const outcome = await this.deps.labels.appendFromSource(
      config.project,
      config.learner as string,
      `kafka:${config.topic}/${partition}`,
      labels,
      async (refused) => {
        deadLetters.push(
          ...refused.map(({ offset, error }) => ({
            message: byOffset.get(offset) as KafkaMessage,
            reason: undecodable.has(offset) ? ("UNDECODABLE" as const) : ("INVALID_LABEL" as const),
            error,
          })),
        );
        await this.sendDeadLetters(source, partition, deadLetters);
      },
    );
    return { accepted: outcome.accepted, replayed: outcome.replayed, tooLate: 0, deadLetters, deadLettersSent: true };
  }

  /** Decodes a batch's messages and writes the events; returns what happened and the messages to dead-letter. */
  private async writeBatch(source: ActiveSource, partition: number, messages: KafkaMessage[]) {
    const { config } = source;
    // The version messages are decoded against is the version written to.
    const stream = await this.deps.registry.resolveStreamRef(config.project, config.stream as string, `kafka source ${config.topic}`);
    const entity = await this.deps.registry.getEntity(stream.project, stream.entity);
    const sourceId = `kafka:${config.topic}/${partition}`;
    if (this.assignedAnew.delete(`${config.topic}/${partition}`)) {
      this.deps.writer.forgetSource(stream.project, stream.name, stream.historyVersion, sourceId);
    }
    const target = decodeTargetOf(stream, entity, config);
    const deadLetters: DeadLetter[] = [];
    const rows: RowInput[] = [];
    const positions: number[] = [];
    const written: KafkaMessage[] = [];
    for (const message of messages) {
      const decoded = source.decode(message.value);
      if ("problem" in decoded) {
        deadLetters.push({ message, reason: "UNDECODABLE", error: decoded.problem });
        continue;
      }
      const event = eventRowOf(decoded.fields, target);
      if ("violations" in event) {
        deadLetters.push({ message, reason: "INVALID_EVENT", error: describeViolations(event.violations) });
        continue;
      }
      rows.push(event.row);
      positions.push(Number(message.offset));
      written.push(message);
    }
    const receipt =
      rows.length > 0
        ? await this.deps.writer.writeFromSource({
            project: stream.project,
            stream: `${stream.name}@${stream.version}`,
            source: sourceId,
            rows,
            positions,
          })
        : { acceptedCount: 0, replayedCount: 0, tooLateCount: 0, rejectedRows: [] };
    for (const rejection of receipt.rejectedRows) {
      const message = written[rejection.rowIndex];
      if (message) deadLetters.push({ message, reason: "INVALID_EVENT", error: describeViolations(rejection.violations) });
    }
    // Dead letters in offset order, as the messages were.
    deadLetters.sort((a, b) => Number(BigInt(a.message.offset) - BigInt(b.message.offset)));
    return {
      accepted: receipt.acceptedCount - receipt.replayedCount,
      replayed: receipt.replayedCount,
      tooLate: receipt.tooLateCount,
      deadLetters,
    };
  }

  /** Sends dead letters (acknowledged by all in-sync replicas) and counts them. */
  private async sendDeadLetters(source: ActiveSource, partition: number, deadLetters: DeadLetter[]): Promise<true> {
    const { config } = source;
    await (this.producer as Producer).send({
      topic: source.deadLetterTopic,
      acks: -1,
      messages: deadLetters.map(({ message, reason, error }) => ({
        key: message.key,
        value: message.value,
        timestamp: message.timestamp,
        headers: {
          ...withoutOurHeaders(message.headers),
          [DEAD_LETTER_HEADERS.reason]: reason,
          [DEAD_LETTER_HEADERS.error]: error,
          [DEAD_LETTER_HEADERS.topic]: config.topic,
          [DEAD_LETTER_HEADERS.partition]: String(partition),
          [DEAD_LETTER_HEADERS.offset]: message.offset,
          [DEAD_LETTER_HEADERS.stream]: targetOf(config),
        },
      })),
    });
    this.deadLetterCount += deadLetters.length;
    for (const reason of ["UNDECODABLE", "INVALID_EVENT", "INVALID_LABEL"] as const) {
      const count = deadLetters.filter((d) => d.reason === reason).length;
      if (count > 0) this.deps.observer?.messagesDeadLettered(config.topic, reason, count);
    }
    return true;
  }

  /**
   * Runs `attempt` until it succeeds, waiting longer after each failure (up to
   * `kafka.maxRetryDelayMs`); resolves undefined, without trying again, once `keepGoing` turns false.
   */
  private async retrying<T>(what: string, context: object, keepGoing: () => boolean, attempt: () => Promise<T>): Promise<T | undefined> {
    for (let failures = 0; keepGoing(); failures++) {
      try {
        return await attempt();
      } catch (error) {
        const delayMs = retryDelay(failures, this.config.maxRetryDelayMs);
        this.logger.error({ ...context, err: error, retryInMs: delayMs }, `kafka batch ${what} failed; retrying, the partition waits`);
        await sleep(delayMs, this.stopped.signal);
      }
    }
    this.logger.info(context, "kafka batch left uncommitted: the partition was reassigned or the source is stopping");
    return undefined;
  }

  /** kafkajs's own log lines, at one level lower (its INFO is routine) except for errors. */
  private logKafka(level: logLevel, namespace: string, log: { message: string; [key: string]: unknown }): void {
    const { message, timestamp: _timestamp, logger: _logger, ...fields } = log;
    const child = { kafkajs: namespace, ...fields };
    if (level === logLevel.ERROR) this.logger.error(child, message);
    else if (level === logLevel.WARN) this.logger.warn(child, message);
    else if (level === logLevel.INFO) this.logger.debug(child, message);
    else this.logger.trace(child, message);
  }
}

/** What a source feeds, for logs and dead-letter headers: "project/stream", or "project/learners/learner". */
function targetOf(config: KafkaSourceConfig): string {
  return config.learner !== undefined ? `${config.project}/learners/${config.learner}` : `${config.project}/${config.stream}`;
}

// ---- decoding ----

/** What decoding needs of a stream: the type of each join key and field by name, and the event-time field. */
export interface DecodeTarget {
  streamName: string;
  /** Join keys and fields by name; `key` marks join keys. */
  names: ReadonlyMap<string, { type: ValueType; key: boolean }>;
  eventTimeField: string;
  eventTimeUnit: KafkaSourceConfig["eventTimeUnit"];
  ignoreUnknownFields: boolean;
}

/** The decode target of a stream version for a source. */
export function decodeTargetOf(
  stream: Pick<EventStreamVersion, "name" | "fields" | "eventTimeField">,
  entity: Pick<Entity, "joinKeys">,
  source: Pick<KafkaSourceConfig, "eventTimeUnit" | "ignoreUnknownFields">,
): DecodeTarget {
  return {
    streamName: stream.name,
    names: new Map<string, { type: ValueType; key: boolean }>([
      ...stream.fields.map((f): [string, { type: ValueType; key: boolean }] => [f.name, { type: f.type, key: false }]),
      ...entity.joinKeys.map((k): [string, { type: ValueType; key: boolean }] => [k.name, { type: k.type, key: true }]),
    ]),
    eventTimeField: stream.eventTimeField,
    eventTimeUnit: source.eventTimeUnit,
    ignoreUnknownFields: source.ignoreUnknownFields,
  };
}

/** A JSON message value: one object per message, UTF-8. */
export function decodeJson(value: Buffer | null): Decoded {
  if (value === null) return { problem: "the message has no value (a tombstone)" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return { problem: "not a JSON object" };
  return { fields: parsed as Record<string, unknown> };
}

/**
 * A decoder of `messageType` from `protoFile`. Field names are kept as the file writes them
 * (snake_case stays snake_case); 64-bit integers come out as decimal text and enums as their names;
 * unset proto3 fields are their defaults, unset `optional` ones are null.
 */
export function protobufDecoder(source: Pick<KafkaSourceConfig, "protoFile" | "messageType">, key: string): MessageDecoder {
  let type: protobuf.Type;
  try {
    const root = new protobuf.Root().loadSync(source.protoFile as string, { keepCase: true });
    type = root.lookupType(source.messageType as string);
  } catch (error) {
    throw new ConfigError(
      `${key}: cannot use message type "${source.messageType}" of ${key}.protoFile ${source.protoFile}: ${(error as Error).message}`,
    );
  }
  return (value) => {
    if (value === null) return { problem: "the message has no value (a tombstone)" };
    try {
      const message = type.decode(value);
      return { fields: type.toObject(message, { longs: String, enums: String, defaults: true, arrays: true }) };
    } catch (error) {
      return { problem: `not a ${type.fullName.replace(/^\./, "")} message: ${(error as Error).message}` };
    }
  };
}

/**
 * A decoded message as an event row: join keys, event time and fields by name, each converted to
 * its declared type (see docs/kafka.md for what each type accepts), or every reason it is not one.
 */
export function eventRowOf(fields: Record<string, unknown>, target: DecodeTarget): { row: RowInput } | { violations: FieldViolation[] } {
  const violations: FieldViolation[] = [];
  const row: RowInput = { entityKey: {}, features: {} };
  for (const [name, raw] of Object.entries(fields)) {
    if (name === target.eventTimeField) {
      if (raw === null || raw === undefined) continue;
      const micros = timeToMicros(raw, target.eventTimeUnit);
      if (typeof micros === "string") violations.push({ field: name, description: micros });
      else row.eventTime = micros;
      continue;
    }
    const declared = target.names.get(name);
    if (!declared) {
      if (!target.ignoreUnknownFields)
        violations.push({
          field: name,
          description: `is not a join key, the event-time field ("${target.eventTimeField}") or a field of stream ${target.streamName}`,
        });
      continue;
    }
    const tagged = valueToTagged(raw, declared.type, target.eventTimeUnit);
    if (typeof tagged === "string") violations.push({ field: name, description: tagged });
    else if (declared.key) row.entityKey[name] = tagged;
    else row.features[name] = tagged;
  }
  if (row.eventTime === undefined && !violations.some((v) => v.field === target.eventTimeField))
    violations.push({ field: target.eventTimeField, description: "is required: the event time" });
  return violations.length > 0 ? { violations } : { row };
}

const INTEGER = /^[+-]?\d+$/;
const MICROS_PER_UNIT: Record<KafkaSourceConfig["eventTimeUnit"], number> = {
  seconds: 1e6,
  milliseconds: 1e3,
  microseconds: 1,
  nanoseconds: 1e-3,
};
/** ISO-8601 date-times: a date, optionally a time with a fraction, optionally an offset (none means UTC). */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * A time value -> microseconds since the epoch: ISO-8601 text (no offset means UTC; digits beyond
 * microseconds are cut), a Protobuf Timestamp ({seconds, nanos}), or an epoch number (or its
 * decimal text) in `unit`. Returns why not, as text, otherwise.
 */
export function timeToMicros(raw: unknown, unit: KafkaSourceConfig["eventTimeUnit"]): number | string {
  if (typeof raw === "number") {
    if (!Number.isFinite(raw)) return `${raw} is not a time`;
    return unit === "nanoseconds" ? Math.floor(raw / 1000) : Math.round(raw * MICROS_PER_UNIT[unit]);
  }
  if (typeof raw === "bigint") return unit === "nanoseconds" ? Number(raw / 1000n) : Number(raw) * MICROS_PER_UNIT[unit];
  if (typeof raw === "string") {
    const text = raw.trim();
    if (INTEGER.test(text)) return timeToMicros(BigInt(text), unit);
    if (/^[+-]?\d+\.\d+$/.test(text)) return timeToMicros(Number(text), unit);
    return isoToMicros(text) ?? `"${raw}" is not an ISO-8601 time or an epoch number (in ${unit})`;
  }
  if (raw !== null && typeof raw === "object" && "seconds" in raw) {
    // A google.protobuf.Timestamp, its seconds as decimal text.
    const { seconds, nanos } = raw as { seconds: unknown; nanos?: unknown };
    const whole = typeof seconds === "string" && INTEGER.test(seconds) ? Number(seconds) : seconds;
    if (typeof whole === "number" && Number.isInteger(whole)) return whole * 1e6 + Math.floor(Number(nanos ?? 0) / 1000);
  }
  return `${JSON.stringify(raw) ?? String(raw)} is not a time`;
}

function isoToMicros(text: string): number | undefined {
  const match = ISO_TIME.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour = "0", minute = "0", second = "0", fraction = "", zone = "Z"] = match;
  const millis = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  const date = new Date(millis);
  // Date.UTC rolls over (February 30th is March 1st): a date that does not round-trip does not exist.
  if (
    Number.isNaN(millis) ||
    date.getUTCDate() !== Number(day) ||
    date.getUTCMonth() !== Number(month) - 1 ||
    Number(hour) > 23 ||
    Number(minute) > 59 ||
    Number(second) > 59
  )
    return undefined;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const digits = zone.replace(":", "");
    offsetMinutes = (zone.startsWith("-") ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || 0));
  }
  return (millis - offsetMinutes * 60_000) * 1000 + Number(fraction.padEnd(6, "0").slice(0, 6));
}

/** A decoded value -> a tagged value of `type`, or why not. */
function valueToTagged(raw: unknown, type: ValueType, unit: KafkaSourceConfig["eventTimeUnit"]): TaggedValue | string {
  if (raw === null || raw === undefined) return { kind: "null", value: null };
  if (type === "timestamp") {
    const micros = timeToMicros(raw, unit);
    return typeof micros === "number" ? { kind: "timestamp", value: new Date(Math.floor(micros / 1000)) } : micros;
  }
  let value: unknown = raw;
  // A Protobuf wrapper (google.protobuf.Int64Value, ...) holds its value in "value".
  if (isPlainObject(value) && Object.keys(value).length === 1 && "value" in value) value = value.value;
  if (value === null || value === undefined) return { kind: "null", value: null };
  if (isPlainObject(value)) return `expected ${type}, got an object`;
  if (Array.isArray(value) !== type.endsWith("_list"))
    return Array.isArray(value) ? `expected ${type}, got a list` : `expected ${type}, got ${typeof value}`;
  if (typeof value === "number" && (type === "int64" || type === "int32") && Number.isInteger(value) && !Number.isSafeInteger(value))
    return `${value} is beyond ±2^53, where JSON numbers lose digits: send it as a string`;
  if (
    type === "string" &&
    typeof value !== "string" &&
    typeof value !== "number" &&
    typeof value !== "boolean" &&
    typeof value !== "bigint"
  )
    return `expected a string, got ${typeof value}`;
  if (value instanceof Uint8Array && type === "bytes") return { kind: "bytes", value: new Uint8Array(value) };
  return fileValueToTagged(value, type);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date);
}

/** Violations as one line for a dead letter's header, without the writer's batch paths ("events[3]."). */
function describeViolations(violations: readonly FieldViolation[]): string {
  return violations.map((v) => `${v.field.replace(/^\w+\[\d+\]\.?/, "") || "event"}: ${v.description}`).join("; ");
}

/** A message's headers without dead-letter headers of an earlier pass (a dead letter fed back keeps only its latest reason). */
function withoutOurHeaders(headers: IHeaders | undefined): IHeaders {
  const ours = new Set<string>(Object.values(DEAD_LETTER_HEADERS));
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => !ours.has(name)));
}

/** Exponential backoff from 200 ms up to `maxMs`. */
function retryDelay(failures: number, maxMs: number): number {
  return Math.min(maxMs, 200 * 2 ** Math.min(failures, 20));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
