/** Thin gRPC adapter of sluice.v1.LearningService over {@link Learning}. */
import { ValidationError } from "../common/errors.js";
import type { LearningServiceServer, WriteLabelsRequest } from "../gen/sluice/v1/learning.pb.js";
import type { Learning } from "../learners/learning.js";
import { parseVersionName } from "../models/model-registry.js";
import { parseProjectName, parseResourceName } from "../registry/names.js";
import type { HandlerEnv } from "./call-context.js";
import { clientStreamHandler } from "./client-stream-handler.js";
import { labelFromWire, learnerFromWire, learnerToWire } from "./mapping/learning.js";
import { requireMessage } from "./mapping/registry.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "sluice.v1.LearningService";
/** A write id is kept with the learner's log for good: it stays short. */
const MAX_WRITE_ID_CHARS = 256;

/** Builds the LearningService handlers. */
export function learningServiceHandlers(learning: Learning, env: HandlerEnv): LearningServiceServer {
  const learnerName = (name: string, field = "name") => parseResourceName(name, "learners", field);
  return {
    createLearner: unaryHandler(`${SERVICE}/CreateLearner`, env, async (request, context) => {
      const learner = requireMessage(request.learner, "learner");
      const { project, id } = learnerName(learner.name, "learner.name");
      const view = await learning.create(learnerFromWire(learner, project, id), context.principal.name);
      context.logger.info({ learner: learner.name, kind: view.definition.kind, inputs: view.definition.inputs.length }, "learner created");
      return { learner: learnerToWire(view) };
    }),
    getLearner: unaryHandler(`${SERVICE}/GetLearner`, env, async (request) => {
      const { project, id } = learnerName(request.name);
      return { learner: learnerToWire(await learning.get(project, id)) };
    }),
    listLearners: unaryHandler(`${SERVICE}/ListLearners`, env, async (request) => {
      const page = await learning.list(parseProjectName(request.parent, "parent"), request.pageSize, request.pageToken);
      return { learners: page.items.map(learnerToWire), nextPageToken: page.nextPageToken };
    }),
    writeLabels: clientStreamHandler(`${SERVICE}/WriteLabels`, env, async (requests: AsyncIterable<WriteLabelsRequest>, context) => {
      let message = 0;
      const written = await learning.writeLabels(
        (async function* () {
          for await (const request of requests) {
            const { project, id } = learnerName(request.learner, "learner");
            if (request.writeId.length > MAX_WRITE_ID_CHARS) {
              throw new ValidationError("INVALID_WRITE_ID", [
                { field: "write_id", description: `at most ${MAX_WRITE_ID_CHARS} characters` },
              ]);
            }
            yield {
              project,
              learner: id,
              writeId: request.writeId,
              labels: request.labels.map((label, i) => labelFromWire(label, `labels[${i}]`)),
            };
            message++;
          }
        })(),
      );
      context.logger.info({ messages: message, accepted: written.accepted, unmatched: written.unmatched }, "labels written");
      return {
        accepted: BigInt(written.accepted),
        unmatched: BigInt(written.unmatched),
        unmatchedLabels: written.unmatchedLabels.map((u) => ({ index: BigInt(u.index), requestId: u.requestId, reason: u.reason })),
        logPosition: String(written.logPosition),
      };
    }),
    publishLearner: unaryHandler(`${SERVICE}/PublishLearner`, env, async (request, context) => {
      const { project, id } = learnerName(request.name);
      const version = await learning.publish(project, id, request.description, context.principal.name);
      const name = `projects/${project}/models/${id}/versions/${version.version}`;
      context.logger.info({ learner: request.name, modelVersion: name, examples: version.labels["sluice.examples"] }, "learner published");
      return { modelVersion: name, learner: learnerToWire(await learning.get(project, id)) };
    }),
    pauseLearner: unaryHandler(`${SERVICE}/PauseLearner`, env, async (request) => {
      const { project, id } = learnerName(request.name);
      return { learner: learnerToWire(await learning.pause(project, id, request.reason)) };
    }),
    resumeLearner: unaryHandler(`${SERVICE}/ResumeLearner`, env, async (request) => {
      const { project, id } = learnerName(request.name);
      return { learner: learnerToWire(await learning.resume(project, id)) };
    }),
    restoreLearner: unaryHandler(`${SERVICE}/RestoreLearner`, env, async (request) => {
      const { project, id } = learnerName(request.name);
      if (request.modelVersion === "")
        throw new ValidationError("MISSING_FIELD", [{ field: "model_version", description: "name a published version" }]);
      const ref = parseVersionName(request.modelVersion, "model_version");
      if (ref.project !== project) {
        throw new ValidationError("NOT_FROM_THIS_LEARNER", [{ field: "model_version", description: "must be in the learner's project" }]);
      }
      return { learner: learnerToWire(await learning.restore(project, id, ref.model, ref.version)) };
    }),
  };
}
