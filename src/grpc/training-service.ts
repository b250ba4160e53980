/** Thin gRPC adapter of sluice.v1.TrainingService over {@link HistoricalRetriever} and {@link TrainingDatasets}. */

import type { handleBidiStreamingCall, handleServerStreamingCall, ServiceDefinition } from "@grpc/grpc-js";
import { ValidationError } from "../common/errors.js";
import {
  type GetHistoricalFeaturesRequest,
  GetHistoricalFeaturesResponse,
  type ReadTrainingDatasetRequest,
  ReadTrainingDatasetResponse,
  type TrainingServiceServer,
  TrainingServiceService,
} from "../gen/sluice/v1/training.pb.js";
import { parseProjectName, parseResourceName } from "../registry/names.js";
import type { ArrowChunks } from "../storage/offline/offline-store.js";
import { ArrowStreamJoiner, arrowRows } from "../training/arrow-values.js";
import type { HistoricalRetriever } from "../training/historical-retriever.js";
import type { OutputColumn, SpineBatchInput } from "../training/model.js";
import type { TrainingDatasets } from "../training/training-datasets.js";
import { arrowPart } from "./arrow-part.js";
import { bidiHandler } from "./bidi-handler.js";
import type { HandlerEnv } from "./call-context.js";
import { requireMessage } from "./mapping/registry.js";
import {
  cellConverter,
  columnSchemaToWire,
  queryFromWire,
  type ResultFormat,
  resultShapeFromWire,
  spineBatchFromWire,
  trainingDatasetToWire,
} from "./mapping/training.js";
import { serverStreamHandler } from "./server-stream-handler.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "sluice.v1.TrainingService";

/**
 * TrainingService as served: the streamed result parts may come already encoded (see
 * {@link arrowPart}), which the generated serializer would otherwise copy twice more.
 */
export const TRAINING_SERVICE_DEFINITION: ServiceDefinition = {
  ...TrainingServiceService,
  getHistoricalFeatures: { ...TrainingServiceService.getHistoricalFeatures, responseSerialize: passEncoded(GetHistoricalFeaturesResponse) },
  readTrainingDataset: { ...TrainingServiceService.readTrainingDataset, responseSerialize: passEncoded(ReadTrainingDatasetResponse) },
};

function passEncoded<T>(type: { encode(message: T): { finish(): Uint8Array } }) {
  return (message: T | Buffer) => (Buffer.isBuffer(message) ? message : Buffer.from(type.encode(message).finish()));
}

/** The TrainingService handlers; the streamed parts may be pre-encoded (see {@link TRAINING_SERVICE_DEFINITION}). */
type TrainingHandlers = Omit<TrainingServiceServer, "getHistoricalFeatures" | "readTrainingDataset"> & {
  getHistoricalFeatures: handleBidiStreamingCall<GetHistoricalFeaturesRequest, GetHistoricalFeaturesResponse | Buffer>;
  readTrainingDataset: handleServerStreamingCall<ReadTrainingDatasetRequest, ReadTrainingDatasetResponse | Buffer>;
};

/** Builds the TrainingService handlers. */
export function trainingServiceHandlers(retriever: HistoricalRetriever, datasets: TrainingDatasets, env: HandlerEnv): TrainingHandlers {
  return {
    getHistoricalFeatures: bidiHandler<GetHistoricalFeaturesRequest, GetHistoricalFeaturesResponse | Buffer>(
      `${SERVICE}/GetHistoricalFeatures`,
      env,
      async (requests, send, context, signal) => {
        const iterator = requests[Symbol.asyncIterator]();
        const first = await iterator.next();
        const wireQuery = first.done ? undefined : first.value.query;
        if (!wireQuery)
          throw new ValidationError("MISSING_FIELD", [{ field: "query", description: "the first message must carry the query" }]);
        const project = parseProjectName(wireQuery.project, "query.project", true);
        const { query, format, chunkRows } = queryFromWire(wireQuery, project, "query");
        const plan = await retriever.plan(query);
        const started = performance.now();
        const retrieval = await retriever.retrieve(plan, query.spine.kind === "inline" ? spineBatches(iterator) : undefined, signal);
        const result = new ResultParts(retrieval.columns, format, chunkRows);
        try {
          await send({
            schema: { columns: retrieval.columns.map(columnSchemaToWire), preservesSpineOrder: retrieval.preservesSpineOrder },
          });
          for await (const part of result.of(retrieval.chunks)) await send(part);
        } finally {
          // A client gone before the first part leaves the result unread: its spine goes all the same.
          await retrieval.release();
        }
        context.logger.info(
          { features: plan.features.length, spine: query.spine.kind, rows: result.rowCount, format, seconds: seconds(started) },
          "historical features served",
        );
      },
    ),
    createTrainingDataset: unaryHandler(`${SERVICE}/CreateTrainingDataset`, env, async (request) => {
      const dataset = requireMessage(request.trainingDataset, "training_dataset");
      const { project, id } = parseResourceName(dataset.name, "trainingDatasets", "training_dataset.name");
      const { query } = queryFromWire(requireMessage(dataset.query, "training_dataset.query"), project, "training_dataset.query");
      const created = await datasets.create({ project, name: id, query, description: dataset.description });
      return { trainingDataset: trainingDatasetToWire(created) };
    }),
    getTrainingDataset: unaryHandler(`${SERVICE}/GetTrainingDataset`, env, async (request) => {
      const { project, id, version } = parseResourceName(request.name, "trainingDatasets", "name", true);
      return { trainingDataset: trainingDatasetToWire(await datasets.get(project, id, version)) };
    }),
    listTrainingDatasets: unaryHandler(`${SERVICE}/ListTrainingDatasets`, env, async (request) => {
      const page = await datasets.list(parseProjectName(request.parent, "parent"), request.pageSize, request.pageToken);
      return { trainingDatasets: page.items.map(trainingDatasetToWire), nextPageToken: page.nextPageToken };
    }),
    readTrainingDataset: serverStreamHandler(
      `${SERVICE}/ReadTrainingDataset`,
      env,
      async function* (request: ReadTrainingDatasetRequest, signal, context) {
        const { project, id, version } = parseResourceName(request.name, "trainingDatasets", "name", true);
        const { format, chunkRows } = resultShapeFromWire(request.format, request.chunkRows, "");
        const started = performance.now();
        const { columns, chunks } = await datasets.read(project, id, version, signal);
        const result = new ResultParts(columns, format, chunkRows);
        yield { schema: { columns: columns.map(columnSchemaToWire), preservesSpineOrder: true } };
        yield* result.of(chunks);
        context.logger.info(
          { trainingDataset: request.name, rows: result.rowCount, format, seconds: seconds(started) },
          "training dataset read",
        );
      },
    ),
  };
}

/** The spine batches that follow the query message, as core batches. */
async function* spineBatches(iterator: AsyncIterator<GetHistoricalFeaturesRequest>): AsyncGenerator<SpineBatchInput> {
  let index = 0;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    yield spineBatchFromWire(next.value.spineBatch, `spine_batches[${index++}]`);
  }
}

/**
 * The data and summary messages of a result: Arrow chunks joined into one IPC stream split across
 * messages, or rows decoded into typed values, `chunkRows` per message.
 */
class ResultParts {
  rowCount = 0;

  constructor(
    private readonly columns: readonly OutputColumn[],
    private readonly format: ResultFormat,
    private readonly chunkRows: number,
  ) {}

  async *of(chunks: ArrowChunks): AsyncGenerator<GetHistoricalFeaturesResponse | Buffer> {
    if (this.format === "arrow") {
      const joiner = new ArrowStreamJoiner();
      for await (const chunk of chunks) {
        yield arrowPart(joiner.next(chunk.ipc), chunk.ipc);
        this.rowCount += chunk.rows;
      }
      yield arrowPart([joiner.end(this.columns)]);
    } else {
      const converters = this.columns.map((column) => cellConverter(column.type));
      let rows: Array<{ values: ReturnType<ReturnType<typeof cellConverter>>[] }> = [];
      for await (const chunk of chunks) {
        for (const cells of arrowRows(chunk.ipc)) {
          rows.push({ values: cells.map((cell, i) => converters[i]?.(cell) ?? {}) });
          if (rows.length === this.chunkRows) {
            this.rowCount += rows.length;
            yield { rows: { rows } };
            rows = [];
          }
        }
      }
      this.rowCount += rows.length;
      if (rows.length > 0) yield { rows: { rows } };
    }
    yield { summary: { rowCount: BigInt(this.rowCount) } };
  }
}

function seconds(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}
