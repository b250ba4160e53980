/**
 * The AccessService wrappers without a server: roles and bindings reach the wire as RoleGrants,
 * listings go page by page with their filters, and bad arguments are refused before anything is
 * sent. The generated stub's methods are replaced on the client instance to see the requests.
 */
import { status } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SluiceClient } from "./client.js";
import { SluiceClientError } from "./errors.js";

let client: SluiceClient;

beforeEach(() => {
  // Nothing listens there; the channel connects lazily, and these tests never let a call through.
  client = new SluiceClient({ address: "127.0.0.1:1", project: "shop" });
});

afterEach(() => client.close());

type Callback = (error: null, response: unknown) => void;

/** Replaces a method of the AccessService stub: it records each request and answers the next of `responses` (the last one repeats). */
function answer(method: string, ...responses: unknown[]): unknown[] {
  const requests: unknown[] = [];
  (client.access as unknown as Record<string, unknown>)[method] = (request: unknown, _m: unknown, _o: unknown, callback: Callback) => {
    requests.push(request);
    callback(null, responses.length > 1 ? responses.shift() : responses[0]);
    return {};
  };
  return requests;
}

/** The field violations of a call the SDK refuses itself, as "field: description". */
async function problems(call: () => Promise<unknown>): Promise<string[]> {
  const error = await call().then(
    () => expect.unreachable("the call should have been refused"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceClientError);
  expect((error as SluiceClientError).code).toBe(status.INVALID_ARGUMENT);
  return (error as SluiceClientError).fieldViolations.map((v) => `${v.field}: ${v.description}`);
}

async function all<T>(generator: AsyncGenerator<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of generator) items.push(item);
  return items;
}

// Calls with arguments TypeScript would refuse, as plain JavaScript can make them.
const js = (value: unknown) => value as never;

describe("API keys", () => {
  it("sends roles as RoleGrants and returns the secret once", async () => {
    const created = answer("createApiKey", { apiKey: { id: "abc", principal: "svc" }, secret: "sk_new" });
    const listed = answer("listApiKeys", { apiKeys: [], nextPageToken: "" });
    const expireTime = new Date("2030-01-01T00:00:00Z");
    const key = await client.createApiKey({ principal: "svc", roles: ["shop:writer", { project: "*", role: "admin" }], expireTime });
    expect([key.secret, key.apiKey.id]).toEqual(["sk_new", "abc"]);
    await all(client.listApiKeys());
    await all(client.listApiKeys({ allProjects: true, showRevoked: true }));
    expect(created).toMatchObject([
      {
        apiKey: {
          principal: "svc",
          roles: [
            { project: "shop", role: "writer" },
            { project: "*", role: "admin" },
          ],
          expireTime: { seconds: BigInt(expireTime.getTime() / 1000) },
        },
      },
    ]);
    expect(listed).toMatchObject([
      { project: "shop", showRevoked: false },
      { project: "", showRevoked: true },
    ]);
    expect(await problems(() => client.createApiKey({ principal: "", roles: [] }))).toEqual([
      'principal: must be a non-empty string, not the string ""',
    ]);
    expect(await problems(() => client.revokeApiKey(""))).toEqual(['id: must be a non-empty string, not the string ""']);
    expect(await problems(() => all(client.listApiKeys({ project: "ml", allProjects: true })))).toEqual([
      "allProjects: cannot be set together with project",
    ]);
  });
});

describe("role bindings", () => {
  it("grants and revokes a role given as text or as a RoleGrant", async () => {
    const binding = { principal: "alice@example.com", role: { project: "shop", role: "deployer" }, createdBy: "admin", source: "api" };
    const granted = answer("grantRole", { binding });
    const revoked = answer("revokeRole", {});
    expect(await client.grantRole({ principal: "alice@example.com", role: "shop:deployer" })).toEqual(binding);
    await client.revokeRole({ principal: "alice@example.com", role: { project: "*", role: "admin" } });
    expect(granted).toEqual([
      {
        binding: {
          principal: "alice@example.com",
          role: { project: "shop", role: "deployer" },
          createTime: undefined,
          createdBy: "",
          source: "",
        },
      },
    ]);
    expect(revoked).toMatchObject([{ binding: { principal: "alice@example.com", role: { project: "*", role: "admin" } } }]);
  });

  it("lists the bindings of the client's project, another one, or the server-wide ones, page by page", async () => {
    const requests = answer(
      "listRoleBindings",
      { bindings: [{ principal: "a" }], nextPageToken: "next" },
      { bindings: [{ principal: "b" }], nextPageToken: "" },
    );
    expect((await all(client.listRoleBindings({ pageSize: 1 }))).map((b) => b.principal)).toEqual(["a", "b"]);
    await all(client.listRoleBindings({ project: "projects/ml" }));
    await all(client.listRoleBindings({ project: "*" }));
    expect(requests).toEqual([
      { project: "shop", pageSize: 1, pageToken: "" },
      { project: "shop", pageSize: 1, pageToken: "next" },
      { project: "ml", pageSize: 0, pageToken: "" },
      { project: "*", pageSize: 0, pageToken: "" },
    ]);
  });

  it("refuses a binding without a principal or role before sending it", async () => {
    expect(await problems(() => client.grantRole(js({ principal: "" })))).toEqual([
      'principal: must be a non-empty string, not the string ""',
      'role: is required (a "project:role" string or { project, role })',
    ]);
    expect(await problems(() => client.revokeRole(js({ principal: "alice", role: { project: "shop" } })))).toEqual([
      "role.role: is required (a non-empty string)",
    ]);
    expect(await problems(() => all(client.listRoleBindings(js({ pageSize: -1 }))))).toEqual([
      "pageSize: must be an integer >= 0, not number -1",
    ]);
  });
});

describe("audit trail", () => {
  it("lists the events of the client's project with every filter, page by page", async () => {
    const requests = answer(
      "listAuditEvents",
      { events: [{ sequence: 2n }], nextPageToken: "p2" },
      { events: [{ sequence: 1n }], nextPageToken: "" },
    );
    const startTime = new Date("2026-01-01T00:00:00Z");
    const endTime = new Date("2026-01-02T00:00:00.500Z");
    const events = await all(
      client.listAuditEvents({
        principal: "alice",
        method: "/sluice.v1.ModelService/",
        outcome: "PERMISSION_DENIED",
        startTime,
        endTime,
        pageSize: 1,
      }),
    );
    expect(events.map((e) => e.sequence)).toEqual([2n, 1n]);
    const filter = {
      project: "shop",
      principal: "alice",
      method: "/sluice.v1.ModelService/",
      outcome: "PERMISSION_DENIED",
      startTime: { seconds: BigInt(startTime.getTime() / 1000), nanos: 0 },
      endTime: { seconds: BigInt(Math.floor(endTime.getTime() / 1000)), nanos: 500_000_000 },
      pageSize: 1,
    };
    expect(requests).toEqual([
      { ...filter, pageToken: "" },
      { ...filter, pageToken: "p2" },
    ]);
  });

  it("lists another project's events or every event, unfiltered by default", async () => {
    const requests = answer("listAuditEvents", { events: [], nextPageToken: "" });
    await all(client.listAuditEvents({ project: "projects/ml" }));
    await all(client.listAuditEvents({ allProjects: true }));
    const unfiltered = { principal: "", method: "", outcome: "", startTime: undefined, endTime: undefined, pageSize: 0, pageToken: "" };
    expect(requests).toEqual([
      { project: "ml", ...unfiltered },
      { project: "", ...unfiltered },
    ]);
  });

  it("refuses bad filters before sending anything", async () => {
    expect(
      await problems(() => all(client.listAuditEvents(js({ project: "ml", allProjects: true, startTime: "yesterday", outcome: 7 })))),
    ).toEqual([
      "outcome: must be a string, not number 7",
      'startTime: must be a valid Date, not the string "yesterday"',
      "allProjects: cannot be set together with project",
    ]);
  });

  it("verifies every chain, or one", async () => {
    const verdict = { chainId: "sluice-0", records: 12n, intact: true, firstBadSequence: 0n, problem: "" };
    const requests = answer("verifyAuditChain", { chains: [verdict], intact: true });
    expect(await client.verifyAuditChain()).toEqual({ chains: [verdict], intact: true });
    await client.verifyAuditChain("sluice-0");
    expect(requests).toEqual([{ chainId: "" }, { chainId: "sluice-0" }]);
    expect(await problems(() => client.verifyAuditChain(js(3)))).toEqual(["chainId: must be a string, not number 3"]);
  });
});
