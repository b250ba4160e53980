/**
 * Page sizes and opaque page tokens (AIP-158). A token encodes the last key of the previous page
 * and the listing it belongs to, so a token from one listing is refused by another.
 */
import { ValidationError } from "./errors.js";

/** Page size used when a request asks for 0. */
export const DEFAULT_PAGE_SIZE = 100;
/** Larger requested page sizes are reduced to this. */
export const MAX_PAGE_SIZE = 1000;

/** A page of results and the token for the next one ("" when this is the last page). */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

/** A validated page request: `after` is the last key of the previous page. */
export interface PageRequest<K> {
  limit: number;
  after?: K;
}

/**
 * Validates `pageSize` and decodes `pageToken` for the listing named `scope`, whose keys are
 * names or version numbers; bad values are reported against the `page_size` and `page_token` fields.
 */
export function readPageRequest<K extends string | number>(
  scope: string,
  pageSize: number,
  pageToken: string,
  keyKind: K extends number ? "version" : "name",
): PageRequest<K> {
  if (!Number.isInteger(pageSize) || pageSize < 0) {
    throw new ValidationError("INVALID_PAGE_SIZE", [{ field: "page_size", description: "must not be negative" }]);
  }
  const limit = pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
  if (pageToken === "") return { limit };
  try {
    const decoded = JSON.parse(Buffer.from(pageToken, "base64url").toString("utf8")) as { s?: unknown; a?: unknown };
    const keyOk = keyKind === "version" ? Number.isSafeInteger(decoded.a) && (decoded.a as number) > 0 : typeof decoded.a === "string";
    if (decoded.s === scope && keyOk) return { limit, after: decoded.a as K };
  } catch {
    // fall through to the error below
  }
  throw new ValidationError("INVALID_PAGE_TOKEN", [
    { field: "page_token", description: "is not a token returned by this listing; start again with an empty token" },
  ]);
}

/** Builds a page from up to `limit + 1` fetched items: the extra item only signals that more exist. */
export function toPage<T, K extends string | number>(scope: string, fetched: T[], limit: number, keyOf: (item: T) => K): Page<T> {
  const items = fetched.slice(0, limit);
  const last = items[items.length - 1];
  const nextPageToken =
    fetched.length > limit && last !== undefined ? Buffer.from(JSON.stringify({ s: scope, a: keyOf(last) })).toString("base64url") : "";
  return { items, nextPageToken };
}
