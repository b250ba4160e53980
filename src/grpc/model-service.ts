/** Thin gRPC adapter of sluice.v1.ModelService over {@link ModelRegistry} and {@link Deployments}. */
import { ValidationError } from "../common/errors.js";
import type { ModelServiceServer, UploadModelRequest } from "../gen/sluice/v1/model.pb.js";
import { changeAuthor, type Deployments } from "../models/deployments.js";
import { type VersionRef, versionName } from "../models/model.js";
import { type ModelRegistry, parseVersionName } from "../models/model-registry.js";
import { parseProjectName, parseResourceName } from "../registry/names.js";
import type { CallContext, HandlerEnv } from "./call-context.js";
import { clientStreamHandler } from "./client-stream-handler.js";
import {
  bindingsFromWire,
  deploymentFromWire,
  deploymentToWire,
  modelToWire,
  modelVersionToWire,
  promotionRequestToWire,
} from "./mapping/models.js";
import { requireMessage } from "./mapping/registry.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "sluice.v1.ModelService";

/**
 * Builds the ModelService handlers. Every change is recorded as made by the call's authenticated
 * principal; a request's deprecated `actor` counts only while authentication is off.
 */
export function modelServiceHandlers(models: ModelRegistry, deployments: Deployments, env: HandlerEnv): ModelServiceServer {
  const author = (request: { actor?: string; reason: string }, context: CallContext) =>
    changeAuthor(context.principal, request.actor ?? "", request.reason);
  return {
    uploadModel: clientStreamHandler(`${SERVICE}/UploadModel`, env, async (requests: AsyncIterable<UploadModelRequest>, context) => {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      const header = first.done ? undefined : first.value.header;
      if (!header)
        throw new ValidationError("MISSING_FIELD", [{ field: "header", description: "the first message must carry the header" }]);
      const { project, id } = parseResourceName(header.model, "models", "header.model");
      const started = performance.now();
      const version = await models.upload(
        {
          project,
          model: id,
          bindings: bindingsFromWire(header.inputBindings, "header.input_bindings"),
          sha256: header.sha256.toLowerCase(),
          trainingDataset: header.trainingDataset,
          description: header.description,
          labels: header.labels,
          uploadedBy: context.principal.name,
        },
        chunks(iterator),
      );
      context.logger.info(
        {
          modelVersion: `${header.model}/versions/${version.version}`,
          bytes: version.sizeBytes,
          ms: Math.round(performance.now() - started),
          uploadedBy: version.uploadedBy,
        },
        "model version uploaded",
      );
      return { modelVersion: modelVersionToWire(version) };
    }),
    getModel: unaryHandler(`${SERVICE}/GetModel`, env, async (request) => {
      const { project, id } = parseResourceName(request.name, "models", "name");
      return { model: modelToWire(await models.getModel(project, id)) };
    }),
    listModels: unaryHandler(`${SERVICE}/ListModels`, env, async (request) => {
      const page = await models.listModels(parseProjectName(request.parent, "parent"), request.pageSize, request.pageToken);
      return { models: page.items.map(modelToWire), nextPageToken: page.nextPageToken };
    }),
    getModelVersion: unaryHandler(`${SERVICE}/GetModelVersion`, env, async (request) => {
      // "…/versions/live" too: the live version of a learner's model (docs/learning.md).
      if (request.name.endsWith("/versions/live")) {
        const live = parseVersionName(request.name, "name");
        return { modelVersion: modelVersionToWire(await models.getVersion(live.project, live.model, live.version)) };
      }
      const { project, id, version } = parseResourceName(request.name, "models", "name", true);
      return { modelVersion: modelVersionToWire(await models.getVersion(project, id, version)) };
    }),
    listModelVersions: unaryHandler(`${SERVICE}/ListModelVersions`, env, async (request) => {
      const { project, id } = parseResourceName(request.parent, "models", "parent");
      const page = await models.listVersions(project, id, request.pageSize, request.pageToken);
      return { modelVersions: page.items.map(modelVersionToWire), nextPageToken: page.nextPageToken };
    }),
    applyDeployment: unaryHandler(`${SERVICE}/ApplyDeployment`, env, async (request, context) => {
      const deployment = requireMessage(request.deployment, "deployment");
      const { project, id } = parseResourceName(deployment.name, "endpoints", "deployment.name");
      const applied = await deployments.apply(deploymentFromWire(deployment, project, id), author(request, context));
      context.logger.info({ endpoint: deployment.name, revision: applied.revision, actor: applied.updatedBy }, "deployment applied");
      return { deployment: deploymentToWire(applied) };
    }),
    getDeployment: unaryHandler(`${SERVICE}/GetDeployment`, env, async (request) => {
      const { project, id } = parseResourceName(request.name, "endpoints", "name");
      return { deployment: deploymentToWire(await deployments.get(project, id)) };
    }),
    listDeployments: unaryHandler(`${SERVICE}/ListDeployments`, env, async (request) => {
      const page = await deployments.list(parseProjectName(request.parent, "parent"), request.pageSize, request.pageToken);
      return { deployments: page.items.map(deploymentToWire), nextPageToken: page.nextPageToken };
    }),
    listDeploymentRevisions: unaryHandler(`${SERVICE}/ListDeploymentRevisions`, env, async (request) => {
      const { project, id } = parseResourceName(request.parent, "endpoints", "parent");
      const page = await deployments.revisions(project, id, request.pageSize, request.pageToken);
      return { deployments: page.items.map(deploymentToWire), nextPageToken: page.nextPageToken };
    }),
    promoteCanary: unaryHandler(`${SERVICE}/PromoteCanary`, env, async (request, context) => {
      const { project, id } = parseResourceName(request.name, "endpoints", "name");
      const outcome = await deployments.promoteCanary(project, id, author(request, context));
      if (!outcome.promoted) {
        const { canary, requestedBy, revision } = outcome.pending;
        context.logger.info(
          { endpoint: request.name, canaryVersion: versionName(canary), requestedBy, revision },
          "canary promotion awaits approval",
        );
        return { deployment: deploymentToWire(outcome.deployment), pendingPromotion: promotionRequestToWire(outcome.pending) };
      }
      const promoted = outcome.deployment;
      context.logger.info({ endpoint: request.name, stable: promoted.stable, actor: promoted.updatedBy }, "canary promoted");
      return { deployment: deploymentToWire(promoted), pendingPromotion: undefined };
    }),
    rollbackDeployment: unaryHandler(`${SERVICE}/RollbackDeployment`, env, async (request, context) => {
      const { project, id } = parseResourceName(request.name, "endpoints", "name");
      const rolledBack = await deployments.rollback(project, id, author(request, context));
      context.logger.info({ endpoint: request.name, stable: rolledBack.stable, actor: rolledBack.updatedBy }, "deployment rolled back");
      return { deployment: deploymentToWire(rolledBack) };
    }),
    approvePromotion: unaryHandler(`${SERVICE}/ApprovePromotion`, env, async (request, context) => {
      const { project, id } = parseResourceName(request.name, "endpoints", "name");
      const expected = expectedCanary(request.canaryVersion);
      const promoted = await deployments.approvePromotion(project, id, expected, author(request, context));
      context.logger.info(
        {
          endpoint: request.name,
          stable: promoted.stable,
          approvedBy: promoted.updatedBy,
          requestedBy: promoted.approvedPromotion?.requestedBy,
        },
        "canary promotion approved",
      );
      return { deployment: deploymentToWire(promoted) };
    }),
    rejectPromotion: unaryHandler(`${SERVICE}/RejectPromotion`, env, async (request, context) => {
      const { project, id } = parseResourceName(request.name, "endpoints", "name");
      const { deployment, rejected } = await deployments.rejectPromotion(project, id, expectedCanary(request.canaryVersion));
      context.logger.info(
        {
          endpoint: request.name,
          canaryVersion: versionName(rejected.canary),
          requestedBy: rejected.requestedBy,
          rejectedBy: author(request, context).actor,
          reason: request.reason,
        },
        "canary promotion rejected",
      );
      return { deployment: deploymentToWire(deployment) };
    }),
  };
}

/** The optional `canary_version` an approval or rejection is conditioned on. */
function expectedCanary(name: string): VersionRef | undefined {
  return name === "" ? undefined : parseVersionName(name, "canary_version");
}

/** The chunk messages after the header, as bytes. */
async function* chunks(iterator: AsyncIterator<UploadModelRequest>): AsyncGenerator<Uint8Array> {
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    const chunk = next.value.chunk;
    if (!chunk)
      throw new ValidationError("UNEXPECTED_MESSAGE", [{ field: "chunk", description: "messages after the header must carry chunks" }]);
    yield chunk;
  }
}
