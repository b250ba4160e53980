import type { PeerCertificate } from "node:tls";
import { describe, expect, it } from "vitest";
import { principalFromCertificate, subjectAltNames } from "./client-certificate.js";

/** The fields principalFromCertificate reads, as Node's getPeerCertificate() fills them. */
function certificate(subject: Record<string, string | string[]>, subjectaltname?: string): PeerCertificate {
  return { subject, ...(subjectaltname === undefined ? {} : { subjectaltname }) } as unknown as PeerCertificate;
}

describe("principalFromCertificate", () => {
  const alice = certificate({ O: "Sluice tests", CN: "alice" }, "URI:spiffe://example/alice, DNS:alice.clients.example");

  it("takes the subject CN, the first URI SAN or the first DNS SAN", () => {
    expect(principalFromCertificate(alice, "subject-cn")).toBe("alice");
    expect(principalFromCertificate(alice, "san-uri")).toBe("spiffe://example/alice");
    expect(principalFromCertificate(alice, "san-dns")).toBe("alice.clients.example");
  });

  it("takes the first of several names of the type asked for, skipping other types", () => {
    const cert = certificate(
      { CN: "svc" },
      "email:ops@example.com, IP Address:10.0.0.1, DNS:first.example, URI:spiffe://example/one, DNS:second.example, URI:spiffe://example/two",
    );
    expect(principalFromCertificate(cert, "san-uri")).toBe("spiffe://example/one");
    expect(principalFromCertificate(cert, "san-dns")).toBe("first.example");
  });

  it("is undefined when the certificate has no name of that kind", () => {
    const noSan = certificate({ O: "Sluice tests", CN: "bob" });
    expect(principalFromCertificate(noSan, "san-uri")).toBeUndefined();
    expect(principalFromCertificate(noSan, "san-dns")).toBeUndefined();
    expect(principalFromCertificate(certificate({ O: "no common name" }, "IP Address:10.0.0.1"), "subject-cn")).toBeUndefined();
    expect(principalFromCertificate(certificate({ CN: "x" }, "IP Address:10.0.0.1"), "san-dns")).toBeUndefined();
    expect(principalFromCertificate(certificate({ CN: "" }), "subject-cn")).toBeUndefined();
  });

  it("refuses a subject with more than one CN rather than guess", () => {
    expect(principalFromCertificate(certificate({ CN: ["alice", "admin"] }), "subject-cn")).toBeUndefined();
  });

  it("is undefined for the empty object grpc-js and Node give when there is no certificate", () => {
    expect(principalFromCertificate({} as PeerCertificate, "subject-cn")).toBeUndefined();
    expect(principalFromCertificate({} as PeerCertificate, "san-uri")).toBeUndefined();
  });

  it("reads a name Node quoted because it holds a comma, without splitting it", () => {
    // What Node prints for URI "spiffe://example/a,b" (escaped since CVE-2021-44532).
    const cert = certificate({ CN: "odd" }, 'URI:"spiffe://example/a\\u002cb", DNS:x.example');
    expect(principalFromCertificate(cert, "san-uri")).toBe("spiffe://example/a,b");
    expect(principalFromCertificate(cert, "san-dns")).toBe("x.example");
  });

  it("does not let a forged-looking value inside a quoted name count as a name of its own", () => {
    const cert = certificate({ CN: "odd" }, 'URI:"spiffe://example/x, DNS:admin.example"');
    expect(principalFromCertificate(cert, "san-dns")).toBeUndefined();
    expect(principalFromCertificate(cert, "san-uri")).toBe("spiffe://example/x, DNS:admin.example");
  });
});

describe("subjectAltNames", () => {
  it("splits Node's text into typed entries and stops at text it cannot parse", () => {
    expect(subjectAltNames("")).toEqual([]);
    expect(subjectAltNames("DNS:a.example, IP Address:127.0.0.1")).toEqual([
      { type: "DNS", value: "a.example" },
      { type: "IP Address", value: "127.0.0.1" },
    ]);
    expect(subjectAltNames('DNS:a.example, URI:"unterminated')).toEqual([{ type: "DNS", value: "a.example" }]);
  });
});
