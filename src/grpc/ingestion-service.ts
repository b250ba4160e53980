/** Thin gRPC adapter of sluice.v1.IngestionService over the core {@link FeatureWriter}. */
import type { FeatureRow, IngestionServiceServer, MaterializeRequest, WriteFeaturesResponse } from "../gen/sluice/v1/ingestion.pb.js";
import type { FeatureWriter } from "../ingest/feature-writer.js";
import type { Materializer } from "../ingest/materializer.js";
import type { RowInput, WriteReceipt } from "../ingest/model.js";
import { parseProjectName } from "../registry/names.js";
import { bidiHandler } from "./bidi-handler.js";
import type { HandlerEnv } from "./call-context.js";
import { taggedFromWire, timestampToMicros } from "./mapping/values.js";
import { serverStreamHandler } from "./server-stream-handler.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "sluice.v1.IngestionService";

/** Builds the IngestionService handlers that exist so far; the rest answer UNIMPLEMENTED. */
export function ingestionServiceHandlers(
  writer: FeatureWriter,
  materializer: Materializer,
  env: HandlerEnv,
): Partial<IngestionServiceServer> {
  const writeBatch = async (request: { project: string; featureView: string; rows: FeatureRow[]; writeId: string }) =>
    receiptToWire(
      await writer.writeBatch({
        project: parseProjectName(request.project, "project", true),
        featureView: request.featureView,
        rows: request.rows.map(rowFromWire),
        writeId: request.writeId,
      }),
    );

  return {
    writeFeatureBatch: unaryHandler(`${SERVICE}/WriteFeatureBatch`, env, writeBatch),
    writeFeatures: bidiHandler(`${SERVICE}/WriteFeatures`, env, async (requests, send, context) => {
      let batches = 0;
      let rows = 0;
      // One batch at a time, acknowledged in order: a batch is acked only once it is stored.
      for await (const request of requests) {
        const ack = await writeBatch(request);
        batches++;
        rows += ack.acceptedCount;
        await send(ack);
      }
      context.logger.debug({ batches, rows }, "write stream finished");
    }),
    materialize: serverStreamHandler(`${SERVICE}/Materialize`, env, async function* (request: MaterializeRequest, signal, context) {
      const started = performance.now();
      const progress = materializer.materialize(
        {
          project: parseProjectName(request.project, "project", true),
          featureView: request.featureView,
          range: {
            start: request.startTime ? timestampToMicros(request.startTime) : undefined,
            end: request.endTime ? timestampToMicros(request.endTime) : undefined,
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

function rowFromWire(row: FeatureRow): RowInput {
  return {
    entityKey: mapValues(row.entityKey),
    eventTime: row.eventTime ? timestampToMicros(row.eventTime) : undefined,
    features: mapValues(row.features),
  };
}

function mapValues(values: Record<string, Parameters<typeof taggedFromWire>[0]>): RowInput["features"] {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, taggedFromWire(value)]));
}

function receiptToWire(receipt: WriteReceipt): WriteFeaturesResponse {
  return {
    writeId: receipt.writeId,
    acceptedCount: receipt.acceptedCount,
    rejectedRows: receipt.rejectedRows.map((r) => ({
      rowIndex: r.rowIndex,
      violations: r.violations.map((v) => ({ ...v, reason: "", localizedMessage: undefined })),
    })),
    duplicate: receipt.duplicate,
    featureViewVersion: receipt.featureViewVersion,
  };
}
