/**
 * The principal a verified client certificate names (`auth.mtlsPrincipal`): its subject CN, its
 * first URI SAN (SPIFFE IDs live there) or its first DNS SAN. Nothing here checks the certificate:
 * callers pass only certificates TLS verified against `tls.clientCaFile` (grpc-js's
 * `getAuthContext().sslPeerCertificate` is set only for those).
 */
import type { PeerCertificate } from "node:tls";

/** Which part of a client certificate names the principal. */
export type CertificatePrincipalSource = "subject-cn" | "san-uri" | "san-dns";

/**
 * The principal name `cert` carries in `from`, or undefined when it carries none there, or more than
 * one subject CN (ambiguous, so refused rather than guessed).
 */
export function principalFromCertificate(cert: PeerCertificate, from: CertificatePrincipalSource): string | undefined {
  if (from === "subject-cn") {
    // Node gives an array when the subject holds the attribute more than once.
    const cn: unknown = cert.subject?.CN;
    return typeof cn === "string" && cn !== "" ? cn : undefined;
  }
  const wanted = from === "san-uri" ? "URI" : "DNS";
  const name = subjectAltNames(cert.subjectaltname ?? "").find((entry) => entry.type === wanted)?.value;
  return name === "" ? undefined : name;
}

/**
 * Parses Node's `subjectaltname` text: entries `TYPE:value` joined by ", ", where a value holding a
 * comma, quote or other character that would make this ambiguous is written as a JSON string
 * (`URI:"spiffe://a\u002cb"`), as Node has done since the fix for CVE-2021-44532. Text that does not
 * parse ends the list at the last entry that did.
 */
export function subjectAltNames(text: string): Array<{ type: string; value: string }> {
  const entries: Array<{ type: string; value: string }> = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(":", at);
    if (colon < 0) break;
    const type = text.slice(at, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = closingQuote(text, colon + 2);
      if (end < 0) break;
      end += 1;
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string;
      } catch {
        break;
      }
    } else {
      end = text.indexOf(", ", colon + 1);
      if (end < 0) end = text.length;
      value = text.slice(colon + 1, end);
    }
    entries.push({ type, value });
    if (end === text.length) break;
    if (!text.startsWith(", ", end)) break;
    at = end + 2;
  }
  return entries;
}

/** Index of the quote closing a JSON string whose text starts at `from`, or -1. */
function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}
