/**
 * Verifies one chain of the audit trail as stored: read in sequence order, the records must be
 * numbered 1, 2, 3... with no gap or repeat, each must name its predecessor's hash, and each hash
 * must match the record's fields. The first record that fails names the verdict.
 */
import type { AuditRecord } from "../storage/offline/offline-store.js";
import { auditRecordHash } from "./audit-hash.js";

/** What is wrong at the first bad sequence of a chain; "" when the chain is intact. */
export type AuditChainProblem = "" | "hash mismatch" | "broken link" | "sequence gap" | "duplicate sequence";

/** The verdict on one chain. */
export interface AuditChainVerdict {
  chainId: string;
  /** Records stored in the chain. */
  records: number;
  intact: boolean;
  /** The first sequence whose position, link or hash does not match; 0 when intact. */
  firstBadSequence: number;
  problem: AuditChainProblem;
}

/**
 * Checks a chain's records, given in sequence order in chunks (records sharing a sequence in one
 * chunk). Stops reading at the first problem: `records` then counts the records read so far.
 *
 * - a missing sequence k (a deleted record) is a "sequence gap" at k;
 * - two records with sequence k (a forged insert) are a "duplicate sequence" at k;
 * - a record whose `previousHash` is not its predecessor's hash is a "broken link" at its
 *   sequence (a record changed and re-hashed breaks the link of the one after it);
 * - a record whose fields do not give its hash (a record changed in place) is a "hash mismatch";
 * - a chain that ends before `storedThrough` lost its tail: a "sequence gap" after its last record.
 *   Without it, removing a chain's last records leaves a shorter chain that verifies.
 */
export async function verifyAuditChain(
  chainId: string,
  chunks: AsyncIterable<AuditRecord[]>,
  /** A sequence known to be stored (by the writer of the chain): a chain ending before it was truncated. */
  storedThrough = 0,
): Promise<AuditChainVerdict> {
  let records = 0;
  let expected = 1;
  let previousHash = "";
  const verdict = (firstBadSequence: number, problem: AuditChainProblem): AuditChainVerdict => ({
    chainId,
    records,
    intact: problem === "",
    firstBadSequence,
    problem,
  });
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const record = chunk[i] as AuditRecord;
      records++;
      if (record.sequence < expected) {
        // Below the next expected sequence: a repeat of the last good one, or a sequence 0 no writer makes.
        return record.sequence === expected - 1 && expected > 1
          ? verdict(record.sequence, "duplicate sequence")
          : verdict(record.sequence, "sequence gap");
      }
      if (record.sequence > expected) return verdict(expected, "sequence gap");
      if (chunk[i + 1]?.sequence === record.sequence) return verdict(record.sequence, "duplicate sequence");
      if (record.previousHash !== previousHash) return verdict(record.sequence, "broken link");
      if (auditRecordHash(record) !== record.hash) return verdict(record.sequence, "hash mismatch");
      expected++;
      previousHash = record.hash;
    }
  }
  return expected <= storedThrough ? verdict(expected, "sequence gap") : verdict(0, "");
}
