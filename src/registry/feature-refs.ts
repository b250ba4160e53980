/**
 * Feature refs as users write them. Short forms are relative to the request's project:
 * `view:feature` follows the latest version of the view, `view@3:feature` pins version 3. The
 * full form puts the view's resource name before the colon:
 * `projects/{project}/featureViews/{view}[/versions/{n}]:feature`; its project must be the
 * request's. View refs (`view`, `view@3`, or the resource name alone) name a view for writes, and
 * service refs a feature service the same way.
 */
import {
  type Collection,
  describeInvalidFieldName,
  describeInvalidResourceId,
  parseVersionNumber,
  splitResourceName,
  truncate,
} from "./names.js";

/** A view ref: a view name and, when pinned, a version. */
export interface ViewRef {
  view: string;
  version?: number;
}

/** A parsed feature ref. */
export interface FeatureRef extends ViewRef {
  feature: string;
}

/** What a view ref names: a feature view (writes, feature refs) or a feature service (selections). */
export type RefKind = "feature view" | "feature service" | "event stream";

const COLLECTION_OF_KIND: Record<RefKind, Collection> = {
  "feature view": "featureViews",
  "feature service": "featureServices",
  "event stream": "eventStreams",
};

/** The forms a view, service or stream ref may take, for messages. */
export function viewRefForms(kind: RefKind = "feature view"): string {
  const name = kind === "feature view" ? "view" : kind === "feature service" ? "service" : "stream";
  return `"${name}", "${name}@3" or "projects/{project}/${COLLECTION_OF_KIND[kind]}/{${name}}[/versions/{n}]"`;
}

/** The forms a feature ref may take, for messages. */
export const FEATURE_REF_FORMS = '"view:feature", "view@3:feature" or "projects/{project}/featureViews/{view}[/versions/{n}]:feature"';

/**
 * Parses a view ref of `kind` in a request for `project`: `name`, `name@N`, or its resource name
 * (with `/versions/{n}` to pin). Returns a description of the problem instead when malformed or
 * when a resource name names another project.
 */
export function parseViewRef(text: string, project: string, kind: RefKind = "feature view"): ViewRef | string {
  if (text.startsWith("projects/")) return parseViewResourceName(text, project, kind);
  const at = text.indexOf("@");
  const view = at < 0 ? text : text.slice(0, at);
  if (view.includes("/")) return `"${truncate(text)}" is not a ${kind} ref; use ${viewRefForms(kind)}`;
  const viewProblem = describeInvalidResourceId(view);
  if (viewProblem) return `${kind} ${viewProblem}`;
  if (at < 0) return { view };
  const version = parseVersionNumber(text.slice(at + 1));
  if (version === undefined) return `"${truncate(text)}": the version after "@" must be a positive integer`;
  return { view, version };
}

/** Parses a feature ref in a request for `project`; returns a description of the problem instead when malformed. */
export function parseFeatureRef(text: string, project: string): FeatureRef | string {
  const colons = text.split(":").length - 1;
  if (colons === 0) return `"${truncate(text)}" is not a feature ref: it has no ":" before the feature; use ${FEATURE_REF_FORMS}`;
  if (colons > 1) return `"${truncate(text)}" has ${colons} colons; a feature ref has one, before the feature: use ${FEATURE_REF_FORMS}`;
  const colon = text.indexOf(":");
  const viewRef = parseViewRef(text.slice(0, colon), project);
  if (typeof viewRef === "string") return viewRef;
  const feature = text.slice(colon + 1);
  const featureProblem = describeInvalidFieldName(feature);
  if (featureProblem) return `feature ${featureProblem}`;
  return { ...viewRef, feature };
}

/** Formats a view ref back to its short text. */
export function formatViewRef(ref: ViewRef): string {
  return ref.version === undefined ? ref.view : `${ref.view}@${ref.version}`;
}

/** Formats a feature ref to its short text: one spelling for every way of writing the same ref. */
export function formatFeatureRef(ref: FeatureRef): string {
  return `${formatViewRef(ref)}:${ref.feature}`;
}

function parseViewResourceName(text: string, project: string, kind: RefKind): ViewRef | string {
  const collection = COLLECTION_OF_KIND[kind];
  const parsed = splitResourceName(text, collection, true);
  if (parsed === "bad shape")
    return `"${truncate(text)}" is not a ${kind} name; expected projects/{project}/${collection}/{id}[/versions/{n}]`;
  if (parsed === "bad version") return `"${truncate(text)}": the version after "/versions/" must be a positive integer`;
  if (parsed.project !== project) {
    return `"${truncate(text)}" names project "${parsed.project}", but the request is for project "${project}"; set the request's project or use a short ref`;
  }
  const viewProblem = describeInvalidResourceId(parsed.id);
  if (viewProblem) return `${kind} ${viewProblem}`;
  return parsed.version === undefined ? { view: parsed.id } : { view: parsed.id, version: parsed.version };
}
