/**
 * Feature refs as users write them: `view:feature` follows the latest version of the view,
 * `view@3:feature` pins version 3. View refs (`view`, `view@3`) name a view for writes.
 */
import { describeInvalidFieldName, describeInvalidResourceId, parseVersionNumber } from "./names.js";

/** A view ref: a view name and, when pinned, a version. */
export interface ViewRef {
  view: string;
  version?: number;
}

/** A parsed feature ref. */
export interface FeatureRef extends ViewRef {
  feature: string;
}

/**
 * Parses `name` or `name@N` (a feature view, or a feature service when `label` says so); returns
 * a description of the problem instead when malformed.
 */
export function parseViewRef(text: string, label: "feature view" | "feature service" = "feature view"): ViewRef | string {
  const at = text.indexOf("@");
  const view = at < 0 ? text : text.slice(0, at);
  const viewProblem = describeInvalidResourceId(view);
  if (viewProblem) return `${label} ${viewProblem}`;
  if (at < 0) return { view };
  const version = parseVersionNumber(text.slice(at + 1));
  if (version === undefined) return `"${text}": the version after "@" must be a positive integer`;
  return { view, version };
}

/** Parses `view:feature` or `view@N:feature`; returns a description of the problem instead when malformed. */
export function parseFeatureRef(text: string): FeatureRef | string {
  const colon = text.lastIndexOf(":");
  if (colon < 0) return `"${text}" is not a feature ref; expected "view:feature" or "view@version:feature"`;
  const viewRef = parseViewRef(text.slice(0, colon));
  if (typeof viewRef === "string") return viewRef;
  const feature = text.slice(colon + 1);
  const featureProblem = describeInvalidFieldName(feature);
  if (featureProblem) return `feature ${featureProblem}`;
  return { ...viewRef, feature };
}

/** Formats a view ref back to text. */
export function formatViewRef(ref: ViewRef): string {
  return ref.version === undefined ? ref.view : `${ref.view}@${ref.version}`;
}
