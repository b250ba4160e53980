/** Thin gRPC adapter of sluice.v1.IngestionService over the core {@link FeatureWriter}. */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ValidationError } from "../common/errors.js";
import {
  type GetEventStreamStatusRequest,
  type ImportFeaturesConfig,
  type ImportFeaturesRequest,
  type IngestionServiceServer,
  type MaterializeRequest,
  FileFormat as WireFileFormat,
  type RowRejection as WireRowRejection,
  type WriteEventsRequest,
  type WriteEventsResponse,
  type WriteFeaturesRequest,
  type WriteFeaturesResponse,
} from "../gen/sluice/v1/ingestion.pb.js";
import type { EventWriter } from "../ingest/event-writer.js";
import type { FeatureWriter } from "../ingest/feature-writer.js";
import type { FileFormat } from "../ingest/file-columns.js";
import type { FileImporter, ImportSource } from "../ingest/file-importer.js";
import type { Materializer } from "../ingest/materializer.js";
import type { RowRejection, WriteReceipt } from "../ingest/model.js";
import { parseProjectName } from "../registry/names.js";
import { bidiHandler } from "./bidi-handler.js";
import type { HandlerEnv } from "./call-context.js";
import { columnsFromWire, eventFromWire, rowFromWire, writeIdFromWire } from "./mapping/batches.js";
import { microsToTimestamp, timestampToMicros } from "./mapping/values.js";
import { processPipelined } from "./pipelined.js";
import { serverStreamHandler } from "./server-stream-handler.js";
import { ClientGoneError } from "./stream-outcome.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "sluice.v1.IngestionService";

/** Batches of one write stream stored concurrently; more adds memory, not throughput, on two cores. */
const WRITE_PIPELINE_DEPTH = 4;

/** The core services the ingestion adapter calls, and where streamed-up files are staged. */
export interface IngestionCore {
  writer: FeatureWriter;
  eventWriter: EventWriter;
  /** Kafka messages dead-lettered since start (0 without a Kafka source). */
  deadLettered: () => number;
  materializer: Materializer;
  importer: FileImporter;
  uploadDir: string;
  maxUploadBytes: number;
}

/** Builds the IngestionService handlers. */
export function ingestionServiceHandlers(
  { writer, eventWriter, deadLettered, materializer, importer, uploadDir, maxUploadBytes }: IngestionCore,
  env: HandlerEnv,
): IngestionServiceServer {
  const writeEventBatch = async (request: WriteEventsRequest): Promise<WriteEventsResponse> => {
    const receipt = await eventWriter.writeBatch({
      project: parseProjectName(request.project, "project", true),
      stream: request.eventStream,
      rows: request.events.map(eventFromWire),
      columns: request.columns ? columnsFromWire(request.columns) : undefined,
      writeId: writeIdFromWire(request.writeId),
    });
    return {
      writeId: receipt.writeId,
      acceptedCount: receipt.acceptedCount,
      rejectedRows: receipt.rejectedRows.map(rejectionToWire),
      duplicate: receipt.duplicate,
      eventStreamVersion: receipt.streamVersion,
      tooLateCount: receipt.tooLateCount,
    };
  };
  const writeBatch = async (request: WriteFeaturesRequest) =>
    receiptToWire(
      await writer.writeBatch({
        project: parseProjectName(request.project, "project", true),
        featureView: request.featureView,
        rows: request.rows.map(rowFromWire),
        columns: request.columns ? columnsFromWire(request.columns) : undefined,
        writeId: writeIdFromWire(request.writeId),
      }),
    );

  return {
    writeFeatureBatch: unaryHandler(`${SERVICE}/WriteFeatureBatch`, env, writeBatch),
    writeFeatures: bidiHandler(`${SERVICE}/WriteFeatures`, env, async (requests, send, context) => {
      let batches = 0;
      let rows = 0;
      // Several batches are stored at once (one formats rows while another is in the engine), but
      // acks go out in request order and each only once its batch is stored. Event-time rules make
      // the online result independent of which batch lands first.
      await processPipelined(requests, WRITE_PIPELINE_DEPTH, writeBatch, async (ack) => {
        batches++;
        rows += ack.acceptedCount;
        await send(ack);
      });
      context.logger.debug({ batches, rows }, "write stream finished");
    }),
    writeEventBatch: unaryHandler(`${SERVICE}/WriteEventBatch`, env, writeEventBatch),
    writeEvents: bidiHandler(`${SERVICE}/WriteEvents`, env, async (requests, send, context) => {
      let batches = 0;
      let events = 0;
      // As WriteFeatures: batches overlap, acks go out in request order once each batch is stored.
      // Lateness verdicts follow the order batches reach the writer, which is request order.
      await processPipelined(requests, WRITE_PIPELINE_DEPTH, writeEventBatch, async (ack) => {
        batches++;
        events += ack.acceptedCount;
        await send(ack);
      });
      context.logger.debug({ batches, events }, "event stream finished");
    }),
    getEventStreamStatus: unaryHandler(`${SERVICE}/GetEventStreamStatus`, env, async (request: GetEventStreamStatusRequest) => {
      const status = await eventWriter.status(parseProjectName(request.project, "project", true), request.eventStream);
      return {
        eventStreamVersion: status.streamVersion,
        sources: status.sources.map((source) => ({
          source: source.source,
          maxEventTime: source.maxEventTime === undefined ? undefined : microsToTimestamp(source.maxEventTime),
          watermark: source.watermark === undefined ? undefined : microsToTimestamp(source.watermark),
          eventCount: BigInt(source.eventCount),
          tooLateCount: BigInt(source.tooLateCount),
          lastPosition: BigInt(source.lastPosition ?? -1),
        })),
        eventCount: BigInt(status.eventCount),
        tooLateCount: BigInt(status.tooLateCount),
        deadLetteredCount: BigInt(deadLettered()),
      };
    }),
    importFeatures: bidiHandler(`${SERVICE}/ImportFeatures`, env, async (requests, send, context, signal) => {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      const config = first.done ? undefined : first.value.config;
      if (!config)
        throw new ValidationError("MISSING_FIELD", [{ field: "config", description: "the first message must carry the import config" }]);
      const format = FORMATS.get(config.format);
      if (!format)
        throw new ValidationError("INVALID_FILE_FORMAT", [
          { field: "config.format", description: "set FILE_FORMAT_PARQUET or FILE_FORMAT_CSV" },
        ]);
      const upload = config.sourcePath === "" ? join(uploadDir, `${randomUUID()}.${format}`) : undefined;
      const source: ImportSource = upload ? { kind: "upload", path: upload } : { kind: "server", path: config.sourcePath };
      try {
        if (upload) {
          // The file is streamed up: stage it on disk (bounded by limits), then import it like a
          // server-side file, but only once the client ended its stream: a cancelled upload imports nothing.
          const bytes = await stageUpload(iterator, upload, maxUploadBytes, signal);
          context.logger.info({ bytes, targets: importTargetsOf(config) }, "import file received");
        }
        const started = performance.now();
        const progress = importer.import(
          {
            project: parseProjectName(config.project, "config.project", true),
            featureView: config.featureView,
            ...(config.eventStream ? { eventStream: config.eventStream } : {}),
            ...(config.featureViews.length > 0
              ? { featureViews: config.featureViews.map((t) => ({ featureView: t.featureView, columnMapping: t.columnMapping })) }
              : {}),
            format,
            columnMapping: config.columnMapping,
            createdTimeColumn: config.createdTimeColumn,
            materializeOnline: config.materializeOnline,
            writeId: writeIdFromWire(config.writeId, "config.write_id"),
          },
          source,
          signal,
        );
        // A call cancelled before the first batch imports nothing; after it the import runs to its
        // end, even with the client gone: stopping half way would leave part of the file applied.
        let clientGone = signal.aborted;
        for await (const step of progress) {
          context.logger.info(
            {
              targets: step.targets.map((t) => t.pinned),
              rowsRead: step.rowsRead,
              rowsWritten: step.rowsWritten,
              rowsRejected: step.rowsRejected,
            },
            step.done ? "import finished" : "import progress",
          );
          if (clientGone || signal.aborted) {
            if (!clientGone)
              context.logger.info({ targets: importTargetsOf(config) }, "the client went away; the import continues to its end");
            clientGone = true;
            continue;
          }
          await send({
            rowsRead: BigInt(step.rowsRead),
            rowsWritten: BigInt(step.rowsWritten),
            rowsRejected: BigInt(step.rowsRejected),
            sampleRejections: step.sampleRejections.map(rejectionToWire),
            done: step.done,
            views: step.targets.map((t) => ({
              featureView: t.pinned,
              rowsWritten: BigInt(t.rowsWritten),
              rowsRejected: BigInt(t.rowsRejected),
            })),
          }).catch((error: unknown) => {
            if (!(error instanceof ClientGoneError)) throw error;
            clientGone = true;
          });
        }
        // The call is gone: end the handler as cancelled, not with a status no one reads.
        if (clientGone || signal.aborted) throw new ClientGoneError();
        context.logger.debug({ durationMs: performance.now() - started }, "import call finished");
      } finally {
        if (upload) await rm(upload, { force: true });
      }
    }),
    materialize: serverStreamHandler(`${SERVICE}/Materialize`, env, async function* (request: MaterializeRequest, signal, context) {
      const started = performance.now();
      const progress = materializer.materialize(
        {
          project: parseProjectName(request.project, "project", true),
          featureView: request.featureView,
          range: {
            start: request.startTime ? timestampToMicros(request.startTime, "start_time") : undefined,
            end: request.endTime ? timestampToMicros(request.endTime, "end_time") : undefined,
          },
        },
        signal,
      );
      for await (const step of progress) {
        context.logger.info(
          { featureView: request.featureView, ...step },
          step.done ? "materialization finished" : "materialization progress",
        );
        yield { entitiesProcessed: BigInt(step.entitiesProcessed), valuesWritten: BigInt(step.valuesWritten), done: step.done };
      }
      context.logger.debug({ durationMs: performance.now() - started }, "materialize call finished");
    }),
  };
}

/**
 * Writes the chunk messages of an upload to `path`; refuses files over `maxBytes`. Returns the
 * size once the client ended its stream; throws when the call was cancelled first (the file is
 * then incomplete, and the caller removes it).
 */
async function stageUpload(
  messages: AsyncIterator<ImportFeaturesRequest>,
  path: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<number> {
  await mkdir(dirname(path), { recursive: true });
  const file = createWriteStream(path);
  let bytes = 0;
  try {
    for (let next = await messages.next(); !next.done; next = await messages.next()) {
      const chunk = next.value.chunk;
      if (!chunk)
        throw new ValidationError("UNEXPECTED_MESSAGE", [{ field: "chunk", description: "messages after the config must carry chunks" }]);
      bytes += chunk.length;
      if (bytes > maxBytes) {
        throw new ValidationError("UPLOAD_TOO_LARGE", [
          { field: "chunk", description: `the file exceeds limits.maxUploadBytes (${maxBytes} bytes)` },
        ]);
      }
      if (!file.write(chunk)) await once(file, "drain");
    }
  } finally {
    await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
  // A cancelled call ends the request stream as a half-close does (Node ends an HTTP/2 stream's
  // readable side before closing it on RST_STREAM); the cancellation itself is known a few ticks
  // later. A half-closed stream stays open, so waiting tells the two apart.
  await new Promise((resolve) => setTimeout(resolve, CANCEL_SETTLE_MS));
  if (signal.aborted) throw new ClientGoneError();
  return bytes;
}

/** How long an ended upload waits for a cancellation that may follow the end of its stream. */
const CANCEL_SETTLE_MS = 25;

function rejectionToWire(rejection: RowRejection): WireRowRejection {
  return {
    rowIndex: rejection.rowIndex,
    violations: rejection.violations.map((v) => ({ ...v, reason: "", localizedMessage: undefined })),
  };
}

const FORMATS = new Map<WireFileFormat, FileFormat>([
  [WireFileFormat.FILE_FORMAT_PARQUET, "parquet"],
  [WireFileFormat.FILE_FORMAT_CSV, "csv"],
]);

function receiptToWire(receipt: WriteReceipt): WriteFeaturesResponse {
  return {
    writeId: receipt.writeId,
    acceptedCount: receipt.acceptedCount,
    rejectedRows: receipt.rejectedRows.map(rejectionToWire),
    duplicate: receipt.duplicate,
    featureViewVersion: receipt.featureViewVersion,
  };
}

/** What an import writes to, as its config names it, for logs. */
function importTargetsOf(config: ImportFeaturesConfig): string[] {
  if (config.featureViews.length > 0) return config.featureViews.map((t) => t.featureView);
  return [config.featureView || config.eventStream];
}
