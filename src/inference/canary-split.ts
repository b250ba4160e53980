/**
 * The sticky canary split: a routing key hashes to a point in [0, 100), and keys below the
 * canary's share go to the canary. The same key always lands on the same point, so a user keeps
 * the version they got while the split is unchanged, and raising the share only moves keys from
 * stable to canary, never back.
 */
import { createHash } from "node:crypto";

/** The point in [0, 100) of a routing key. */
export function routingPoint(key: string): number {
  // 48 bits of SHA-1: uniform, and exact as a double.
  const digest = createHash("sha1").update(key).digest();
  return (digest.readUIntBE(0, 6) / 2 ** 48) * 100;
}

/** Whether a routing key goes to a canary that takes `percent` of traffic. */
export function goesToCanary(key: string, percent: number): boolean {
  return percent > 0 && routingPoint(key) < percent;
}
