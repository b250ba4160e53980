/** Thin gRPC adapter of sluice.v1.RegistryService over the core {@link Registry}. */
import type { ListProjectsRequest, ListProjectsResponse, RegistryServiceServer } from "../gen/sluice/v1/registry.pb.js";
import { mergedJoinKeys } from "../registry/model.js";
import { parseProjectName, parseResourceName, parseResourceNameShape } from "../registry/names.js";
import type { Registry } from "../registry/registry.js";
import { visibleProjects } from "../security/principal.js";
import type { HandlerEnv } from "./call-context.js";
import {
  applyOutcomeToWire,
  compatibilityToWire,
  entityDraftFromWire,
  entityToWire,
  eventStreamDraftFromWire,
  eventStreamToWire,
  featureServiceSpecFromWire,
  featureServiceToWire,
  featureViewDraftFromWire,
  featureViewToWire,
  historyOutcomeToWire,
  joinKeyToWire,
  projectToWire,
  requireMessage,
  resolvedFeatureToWire,
} from "./mapping/registry.js";
import { unaryHandler } from "./unary-handler.js";

const SERVICE = "sluice.v1.RegistryService";

/** Builds the RegistryService handlers. */
export function registryServiceHandlers(registry: Registry, env: HandlerEnv): RegistryServiceServer {
  const unary = <Req, Res>(method: string, impl: (request: Req) => Promise<Res>) =>
    unaryHandler<Req, Res>(`${SERVICE}/${method}`, env, impl);

  return {
    createProject: unary("CreateProject", async (request) => {
      const project = requireMessage(request.project, "project");
      const id = parseProjectName(project.name, "project.name");
      return { project: projectToWire(await registry.createProject(id, project.description)) };
    }),
    getProject: unary("GetProject", async (request) => ({
      project: projectToWire(await registry.getProject(parseProjectName(request.name, "name"))),
    })),
    listProjects: unaryHandler<ListProjectsRequest, ListProjectsResponse>(`${SERVICE}/ListProjects`, env, async (request, context) => {
      const visible = visibleProjects(context.principal);
      if (visible === undefined) {
        const page = await registry.listProjects(request.pageSize, request.pageToken);
        return { projects: page.items.map(projectToWire), nextPageToken: page.nextPageToken };
      }
      // A caller with roles on a few projects sees those, in one page, and learns nothing of the others.
      const projects = await Promise.all([...visible].sort().map((id) => registry.getProject(id).catch(() => undefined)));
      return { projects: projects.filter((project) => project !== undefined).map(projectToWire), nextPageToken: "" };
    }),

    applyEntity: unary("ApplyEntity", async (request) => {
      const entity = requireMessage(request.entity, "entity");
      const { project, id } = parseResourceNameShape(entity.name, "entities", "entity.name");
      const result = await registry.applyEntity(entityDraftFromWire(entity, project, id), { validateOnly: request.validateOnly });
      return { entity: entityToWire(result.entity), outcome: applyOutcomeToWire(result.outcome) };
    }),
    getEntity: unary("GetEntity", async (request) => {
      const { project, id } = parseResourceName(request.name, "entities", "name");
      return { entity: entityToWire(await registry.getEntity(project, id)) };
    }),
    listEntities: unary("ListEntities", async (request) => {
      const page = await registry.listEntities(parseProjectName(request.parent, "parent"), request.pageSize, request.pageToken);
      return { entities: page.items.map(entityToWire), nextPageToken: page.nextPageToken };
    }),

    applyFeatureView: unary("ApplyFeatureView", async (request) => {
      const view = requireMessage(request.featureView, "feature_view");
      const { project, id } = parseResourceNameShape(view.name, "featureViews", "feature_view.name");
      const result = await registry.applyFeatureView(featureViewDraftFromWire(view, project, id), {
        validateOnly: request.validateOnly,
      });
      return {
        featureView: featureViewToWire(result.resource),
        outcome: applyOutcomeToWire(result.outcome),
        compatibility: compatibilityToWire(result.compatibility),
        changes: result.changes,
        history: historyOutcomeToWire(result.outcome, result.resource),
      };
    }),
    getFeatureView: unary("GetFeatureView", async (request) => {
      const { project, id, version } = parseResourceName(request.name, "featureViews", "name", true);
      return { featureView: featureViewToWire(await registry.getFeatureView(project, id, version)) };
    }),
    listFeatureViews: unary("ListFeatureViews", async (request) => {
      const project = parseProjectName(request.parent, "parent");
      const page = await registry.listFeatureViews(project, request.pageSize, request.pageToken, request.showDeprecated);
      return { featureViews: page.items.map(featureViewToWire), nextPageToken: page.nextPageToken };
    }),
    listFeatureViewVersions: unary("ListFeatureViewVersions", async (request) => {
      const { project, id } = parseResourceName(request.parent, "featureViews", "parent");
      const page = await registry.listFeatureViewVersions(project, id, request.pageSize, request.pageToken);
      return { featureViews: page.items.map(featureViewToWire), nextPageToken: page.nextPageToken };
    }),
    deleteFeatureView: unary("DeleteFeatureView", async (request) => {
      const { project, id } = parseResourceName(request.name, "featureViews", "name");
      return { featureView: featureViewToWire(await registry.deprecateFeatureView(project, id)) };
    }),

    applyFeatureService: unary("ApplyFeatureService", async (request) => {
      const service = requireMessage(request.featureService, "feature_service");
      const { project, id } = parseResourceNameShape(service.name, "featureServices", "feature_service.name");
      const result = await registry.applyFeatureService(featureServiceSpecFromWire(service, project, id), {
        validateOnly: request.validateOnly,
      });
      return {
        featureService: featureServiceToWire(result.resource),
        outcome: applyOutcomeToWire(result.outcome),
        compatibility: compatibilityToWire(result.compatibility),
        changes: result.changes,
      };
    }),
    getFeatureService: unary("GetFeatureService", async (request) => {
      const { project, id, version } = parseResourceName(request.name, "featureServices", "name", true);
      return { featureService: featureServiceToWire(await registry.getFeatureService(project, id, version)) };
    }),
    listFeatureServices: unary("ListFeatureServices", async (request) => {
      const page = await registry.listFeatureServices(parseProjectName(request.parent, "parent"), request.pageSize, request.pageToken);
      return { featureServices: page.items.map(featureServiceToWire), nextPageToken: page.nextPageToken };
    }),
    listFeatureServiceVersions: unary("ListFeatureServiceVersions", async (request) => {
      const { project, id } = parseResourceName(request.parent, "featureServices", "parent");
      const page = await registry.listFeatureServiceVersions(project, id, request.pageSize, request.pageToken);
      return { featureServices: page.items.map(featureServiceToWire), nextPageToken: page.nextPageToken };
    }),

    applyEventStream: unary("ApplyEventStream", async (request) => {
      const stream = requireMessage(request.eventStream, "event_stream");
      const { project, id } = parseResourceNameShape(stream.name, "eventStreams", "event_stream.name");
      const result = await registry.applyEventStream(eventStreamDraftFromWire(stream, project, id), { validateOnly: request.validateOnly });
      return {
        eventStream: eventStreamToWire(result.resource),
        outcome: applyOutcomeToWire(result.outcome),
        compatibility: compatibilityToWire(result.compatibility),
        changes: result.changes,
        history: historyOutcomeToWire(result.outcome, result.resource),
      };
    }),
    getEventStream: unary("GetEventStream", async (request) => {
      const { project, id, version } = parseResourceName(request.name, "eventStreams", "name", true);
      return { eventStream: eventStreamToWire(await registry.getEventStream(project, id, version)) };
    }),
    listEventStreams: unary("ListEventStreams", async (request) => {
      const page = await registry.listEventStreams(parseProjectName(request.parent, "parent"), request.pageSize, request.pageToken);
      return { eventStreams: page.items.map(eventStreamToWire), nextPageToken: page.nextPageToken };
    }),
    listEventStreamVersions: unary("ListEventStreamVersions", async (request) => {
      const { project, id } = parseResourceName(request.parent, "eventStreams", "parent");
      const page = await registry.listEventStreamVersions(project, id, request.pageSize, request.pageToken);
      return { eventStreams: page.items.map(eventStreamToWire), nextPageToken: page.nextPageToken };
    }),

    resolveFeatures: unary("ResolveFeatures", async (request) => {
      const project = parseProjectName(request.project, "project", true);
      const resolved = await registry.resolveSelection(project, request.features, request.featureService);
      const { keys } = mergedJoinKeys(await registry.entitiesOf(resolved));
      return { features: resolved.map(resolvedFeatureToWire), joinKeys: keys.map(joinKeyToWire) };
    }),
  };
}
