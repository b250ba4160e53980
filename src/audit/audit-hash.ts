/**
 * The hash that chains audit records (docs/security.md, "Audit trail", gives the same encoding
 * for auditors). SHA-256, lower-case hex, over netstrings (`{UTF-8 byte length}:{bytes},`) of a
 * version tag, the previous record's hash and every field of the record, in a fixed order: length
 * prefixes make the encoding unambiguous without escaping, and any language can rebuild it.
 */
import { createHash, type Hash } from "node:crypto";
import type { AuditRecord } from "../storage/offline/offline-store.js";

/** The first netstring of every hashed record: names the encoding, so a later one cannot be confused with it. */
export const AUDIT_HASH_VERSION = "sluice-audit-v1";

/** The hash of a record: SHA-256 (hex) over its canonical encoding, which includes the previous record's hash. */
export function auditRecordHash(record: Omit<AuditRecord, "hash">): string {
  const hash = createHash("sha256");
  const field = (text: string) => netstring(hash, text);
  field(AUDIT_HASH_VERSION);
  field(record.previousHash);
  field(record.chainId);
  field(String(record.sequence));
  field(String(record.time));
  field(record.principal);
  field(record.authentication);
  field(record.method);
  field(record.project);
  field(String(record.resources.length));
  for (const resource of record.resources) field(resource);
  field(record.requestDigest);
  field(record.peer);
  field(record.outcome);
  field(record.detail);
  field(record.requestId);
  return hash.digest("hex");
}

function netstring(hash: Hash, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  hash.update(`${bytes.length}:`);
  hash.update(bytes);
  hash.update(",");
}

/**
 * The text with every unpaired UTF-16 surrogate replaced by U+FFFD: what UTF-8 can carry, so the
 * text hashed is the text stored and read back.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}
