/**
 * Resource names as SDK methods take them, by the project's one naming rule: where a method names
 * a resource it takes either the short id, which goes into the call's project
 * (`customer_stats` -> `projects/default/featureViews/customer_stats`), or the full resource name,
 * used unchanged. Anything else is refused before the call with a {@link SluiceClientError}
 * (INVALID_ARGUMENT, reason INVALID_RESOURCE_NAME) whose message shows the expected form.
 *
 * Refs are not names and go to the server as written: view refs (`view`, `view@3`, or the full
 * `projects/{p}/featureViews/view[/versions/3]`), feature refs (`view:feature`, `view@3:feature`,
 * or the full forms) and feature service refs.
 */
import { type Collection, parseVersionNumber, RESOURCE_ID_PATTERN } from "../../../src/registry/names.js";
import { argumentError } from "./arguments.js";
import type { SluiceClientError } from "./errors.js";

/** Where a name was given, for the error: the method and the argument. */
export interface NameSource {
  method: string;
  field: string;
}

/** How to complete a name given by id. */
export interface NameContext {
  /** The project id a short id goes into: the call's, else the client's. */
  project: string;
  /** Whether the call named its project: a full name must then be in that project. */
  projectGiven: boolean;
}

/** A resource given by id or full name. */
export interface NameOptions extends NameContext {
  /** Whether a full name may end in `/versions/{n}` (reads of one version). */
  allowVersion?: boolean;
  /** A version the call asks for (its `version` option): appended, and a full name's own version must agree. */
  version?: number;
  /** Leave a short id's characters to the server (applies: it reports a bad id beside the definition's other problems). */
  lenient?: boolean;
}

/** Which forms a name may take: `id@n` refs, and whether a version is refused, allowed or required. */
interface Form {
  atRef: boolean;
  version: "never" | "optional" | "required";
}

/** What a member of each collection is called, with its article. */
const NOUNS: Record<Collection, string> = {
  entities: "an entity",
  featureViews: "a feature view",
  featureServices: "a feature service",
  eventStreams: "an event stream",
  models: "a model",
  endpoints: "an endpoint",
  trainingDatasets: "a training dataset",
  learners: "a learner",
};

/** An id of each collection, shown in messages. */
const EXAMPLES: Record<Collection, string> = {
  entities: "customer",
  featureViews: "customer_stats",
  featureServices: "churn_inputs",
  eventStreams: "transactions",
  models: "churn",
  endpoints: "churn",
  trainingDatasets: "churn_training",
  learners: "ctr",
};

const PREFIX = "projects/";

/** The project id of `"p"` or `"projects/p"`. */
export function projectId(project: string, at: NameSource): string {
  const id = project.startsWith(PREFIX) ? project.slice(PREFIX.length) : project;
  if (!RESOURCE_ID_PATTERN.test(id)) {
    throw invalidName(at, project, `a project id such as "default", or "projects/{project}"`);
  }
  return id;
}

/**
 * The full name of a resource given by id or full name:
 * `projects/{project}/{collection}/{id}[/versions/{version}]`.
 */
export function fullName(collection: Collection, idOrName: string, options: NameOptions, at: NameSource): string {
  const form: Form = { atRef: false, version: options.allowVersion || options.version !== undefined ? "optional" : "never" };
  const parsed = parseName(collection, idOrName, options, at, form);
  const own = parsed.version;
  if (own !== undefined && options.version !== undefined && own !== options.version) {
    throw argumentError(
      at.method,
      at.field,
      `${JSON.stringify(idOrName)} names version ${own}, but version ${options.version} was asked for`,
      "INVALID_RESOURCE_NAME",
    );
  }
  const version = own ?? options.version;
  return version === undefined ? parsed.base : `${parsed.base}/versions/${version}`;
}

/**
 * A version of a model or training dataset given as `id@n` or a full version name, or, unless
 * `needVersion`, as `id` or a full name without a version (`version` is then undefined).
 */
export function versionedName(
  collection: "models" | "trainingDatasets",
  ref: string,
  options: NameContext & { needVersion: boolean },
  at: NameSource,
): { base: string; version?: number } {
  return parseName(collection, ref, options, at, { atRef: true, version: options.needVersion ? "required" : "optional" });
}

/** Parses an id (`id@n` too for refs) or a full name into its unversioned full name and its version. */
function parseName(
  collection: Collection,
  text: string,
  options: NameContext & { lenient?: boolean },
  at: NameSource,
  form: Form,
): { base: string; version?: number } {
  const refuse = () => invalidName(at, text, expectedForm(collection, form));
  const idOk = (id: string) => (options.lenient ? id !== "" && !/[/@:]/.test(id) : RESOURCE_ID_PATTERN.test(id));
  let base: string;
  let version: number | undefined;
  if (text.startsWith(PREFIX)) {
    const parts = text.split("/");
    const [, project = "", kind, id = "", versionsWord, number = ""] = parts;
    const versionOk = parts.length === 4 || (form.version !== "never" && parts.length === 6 && versionsWord === "versions");
    version = parts.length === 6 ? versionNumber(collection, number) : undefined;
    if (
      kind !== collection ||
      !versionOk ||
      !RESOURCE_ID_PATTERN.test(project) ||
      !idOk(id) ||
      (parts.length === 6 && version === undefined)
    ) {
      throw refuse();
    }
    if (options.projectGiven && project !== options.project) {
      throw invalidName(at, text, `a name in project "${options.project}" (the project of the call), or ${NOUNS[collection]} id`);
    }
    base = parts.slice(0, 4).join("/");
  } else {
    const atSign = form.atRef ? text.indexOf("@") : -1;
    const id = atSign < 0 ? text : text.slice(0, atSign);
    version = atSign < 0 ? undefined : versionNumber(collection, text.slice(atSign + 1));
    if (!idOk(id) || (atSign >= 0 && version === undefined)) throw refuse();
    base = `${PREFIX}${options.project}/${collection}/${id}`;
  }
  if (form.version === "required" && version === undefined) throw refuse();
  return { base, version };
}

/** A version number; for a model, "live" too (its learner's live state, version {@link LIVE_MODEL_VERSION}). */
function versionNumber(collection: Collection, text: string): number | undefined {
  return collection === "models" && text === "live" ? LIVE_MODEL_VERSION : parseVersionNumber(text);
}

/** The version number a client names a model's live state with ("churn@live"): it is written back as "live". */
export const LIVE_MODEL_VERSION = 0;

/** How a name of the collection may be written, for messages. */
function expectedForm(collection: Collection, form: Form): string {
  const noun = NOUNS[collection];
  const example = EXAMPLES[collection];
  const suffix = { never: "", optional: "[/versions/{version}]", required: "/versions/{version}" }[form.version];
  const full = `"projects/{project}/${collection}/{id}${suffix}"`;
  if (!form.atRef) return `${noun} id such as "${example}", or ${full}`;
  if (form.version === "required") return `${noun} version such as "${example}@3", or ${full}`;
  return `${noun} such as "${example}" or "${example}@3", or ${full}`;
}

function invalidName(at: NameSource, text: string, expected: string): SluiceClientError {
  const given = text === "" ? "is empty" : `${JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text)} is not valid`;
  return argumentError(at.method, at.field, `${given}; expected ${expected}`, "INVALID_RESOURCE_NAME");
}
