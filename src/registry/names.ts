/**
 * Resource names (Google AIP-122): `projects/{project}/featureViews/{view}/versions/{n}` and
 * friends. Parsing reports a field violation naming the request field that held the bad name.
 */
import { ValidationError } from "../common/errors.js";

/** The project every server has, used when a request leaves the project empty. */
export const DEFAULT_PROJECT = "default";

/** Resource ids (projects, entities, views, services, models): lower snake case, so they are safe as table and column names. */
export const RESOURCE_ID_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** Feature and join key names: identifiers as users write them in code and SQL. */
export const FIELD_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Collections under a project whose members are versioned or not. */
export type Collection =
  | "entities"
  | "featureViews"
  | "featureServices"
  | "eventStreams"
  | "models"
  | "endpoints"
  | "trainingDatasets"
  | "learners";

/** A parsed resource name; `version` is set only when the name ends in `/versions/{n}`. */
export interface ParsedName {
  project: string;
  id: string;
  version?: number;
}

/** Explains an invalid resource id, or returns undefined when it is valid. */
export function describeInvalidResourceId(id: string): string | undefined {
  if (id === "") return "must not be empty";
  if (!RESOURCE_ID_PATTERN.test(id)) {
    return `"${truncate(id)}" is not a valid id: use 1-63 lowercase letters, digits and underscores, starting with a letter`;
  }
  return undefined;
}

/** Explains an invalid feature or join key name, or returns undefined when it is valid. */
export function describeInvalidFieldName(name: string): string | undefined {
  if (name === "") return "must not be empty";
  if (!FIELD_NAME_PATTERN.test(name)) {
    return `"${truncate(name)}" is not a valid name: use 1-63 letters, digits and underscores, not starting with a digit`;
  }
  return undefined;
}

/** `projects/{project}`. */
export function projectName(project: string): string {
  return `projects/${project}`;
}

/** `projects/{project}/{collection}/{id}`, with `/versions/{n}` when a version is given. */
export function resourceName(project: string, collection: Collection, id: string, version?: number): string {
  const base = `projects/${project}/${collection}/${id}`;
  return version === undefined ? base : `${base}/versions/${version}`;
}

/** Parses `projects/{project}`; `field` names the request field for the error. An empty name means the default project when `allowEmpty`. */
export function parseProjectName(name: string, field: string, allowEmpty = false): string {
  if (name === "" && allowEmpty) return DEFAULT_PROJECT;
  const parts = name.split("/");
  if (parts.length !== 2 || parts[0] !== "projects" || describeInvalidResourceId(parts[1] ?? "") !== undefined) {
    throw invalidName(field, name, "projects/{project}");
  }
  return parts[1] as string;
}

/**
 * Parses `projects/{project}/{collection}/{id}` and, when `allowVersion`, an optional
 * `/versions/{n}` suffix with n >= 1.
 */
export function parseResourceName(name: string, collection: Collection, field: string, allowVersion = false): ParsedName {
  const parsed = parseResourceNameShape(name, collection, field, allowVersion);
  if (describeInvalidResourceId(parsed.id) !== undefined) {
    throw invalidName(field, name, `projects/{project}/${collection}/{id}${allowVersion ? "[/versions/{version}]" : ""}`);
  }
  return parsed;
}

/**
 * Like {@link parseResourceName} but leaves the id unchecked, for applies: the definition's
 * validation then reports a bad id beside every other problem of the request.
 */
export function parseResourceNameShape(name: string, collection: Collection, field: string, allowVersion = false): ParsedName {
  const expected = `projects/{project}/${collection}/{id}${allowVersion ? "[/versions/{version}]" : ""}`;
  const parsed = splitResourceName(name, collection, allowVersion);
  if (parsed === "bad version") throw invalidName(field, name, expected, "the version must be a positive integer");
  if (parsed === "bad shape") throw invalidName(field, name, expected);
  return parsed;
}

/**
 * Splits `projects/{project}/{collection}/{id}[/versions/{n}]` without throwing: the parts (the id
 * unchecked but non-empty), or which part is wrong. The one shape parser behind resource-name
 * fields and full-form refs.
 */
export function splitResourceName(name: string, collection: Collection, allowVersion: boolean): ParsedName | "bad shape" | "bad version" {
  const parts = name.split("/");
  const shapeOk =
    (parts.length === 4 || (allowVersion && parts.length === 6 && parts[4] === "versions")) &&
    parts[0] === "projects" &&
    parts[2] === collection;
  const project = parts[1] as string;
  const id = parts[3] as string;
  if (!shapeOk || describeInvalidResourceId(project) !== undefined || id === "") return "bad shape";
  if (parts.length === 4) return { project, id };
  const version = parseVersionNumber(parts[5] as string);
  return version === undefined ? "bad version" : { project, id, version };
}

/** Parses a positive decimal version number without sign or leading zeros. */
export function parseVersionNumber(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,8}$/.test(text)) return undefined;
  return Number(text);
}

function invalidName(field: string, name: string, expected: string, detail?: string): ValidationError {
  const shown = name === "" ? "is empty" : `"${truncate(name)}" is not a valid name`;
  return new ValidationError("INVALID_RESOURCE_NAME", [
    { field, description: `${shown}; expected ${expected}${detail ? ` (${detail})` : suggestFullName(name, expected)}` },
  ]);
}

/**
 * For a bare id (or `id@N`) where a resource name belongs, the name it most likely meant, in the
 * default project: resource fields take full names, refs take both.
 */
function suggestFullName(name: string, expected: string): string {
  const parts = name.split("@");
  const [id, version] = parts;
  if (
    parts.length > 2 ||
    id === undefined ||
    describeInvalidResourceId(id) !== undefined ||
    (version !== undefined && !parseVersionNumber(version))
  )
    return "";
  const example = expected
    .replace("{project}", DEFAULT_PROJECT)
    .replace(/\{id\}.*$/, id)
    .replace(/^projects\/default$/, `projects/${id}`);
  return `, e.g. "${example}${version && expected.includes("/versions/") ? `/versions/${version}` : ""}"`;
}

/** Shortens user text quoted in a message. */
export function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
