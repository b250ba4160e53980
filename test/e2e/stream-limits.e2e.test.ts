/**
 * Silent and slow clients cannot grow a server's memory: 2,000 client streams that never send a
 * message, and retrievals whose client never reads the rows, cost the server a bounded amount of
 * memory (measured as the server process's resident set), and each is ended with
 * DEADLINE_EXCEEDED once it has been idle for `grpc.streamIdleTimeoutMs`.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { connect as connectHttp2, type IncomingHttpHeaders } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonValue } from "@bufbuild/protobuf";
import { Client, type ClientWritableStream, credentials, Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawClient } from "../support/raw-grpc.js";
import { type ServerProcess, spawnServer, stopServer } from "../support/server-process.js";

const IDLE_TIMEOUT_MS = 6000;
/** What 2,000 idle streams may add to the server's resident memory: about 50 KB each, far below any buffering of data. */
const IDLE_STREAMS_RSS_BOUND = 100 * 1024 * 1024;
/**
 * What 20 unread retrievals of 50,000 rows each may add over the same retrievals read at once: a
 * stalled call holds what its handler has produced but not sent until the stall limit ends it.
 */
const SLOW_READERS_RSS_BOUND = 300 * 1024 * 1024;

function residentBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line?.[1] ?? 0) * 1024;
}

const identity = (bytes: Buffer) => bytes;

describe("stream limits", () => {
  let server: ServerProcess;
  let setup: RawClient;

  beforeAll(async () => {
    server = await spawnServer(["--data-dir", mkdtempSync(join(tmpdir(), "sluice-streams-"))], {
      env: { SLUICE_GRPC_STREAM_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS) },
    });
    setup = new RawClient(server.address);
    const apply = async (path: string, request: JsonValue) => {
      const outcome = await setup.call(path, [setup.encode(path, request)]);
      expect(outcome.code, outcome.details).toBe(status.OK);
    };
    await apply("/sluice.v1.RegistryService/ApplyEntity", {
      entity: { name: "projects/default/entities/user", joinKeys: [{ name: "user_id", type: "VALUE_TYPE_INT64" }] },
    });
    await apply("/sluice.v1.RegistryService/ApplyFeatureView", {
      featureView: { name: "projects/default/featureViews/clicks", entity: "user", features: [{ name: "n", type: "VALUE_TYPE_INT64" }] },
    });
  }, 60_000);

  afterAll(async () => {
    setup?.close();
    if (server) await stopServer(server);
  });

  it("holds 2,000 silent client streams in bounded memory and ends each once idle", async () => {
    // Four connections, so no connection exceeds the server's 1,000 concurrent streams.
    const clients = Array.from(
      { length: 4 },
      () => new Client(server.address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
    );
    const before = residentBytes(server.child.pid as number);
    const ended: Array<Promise<status>> = [];
    const calls: ClientWritableStream<Buffer>[] = [];
    for (let i = 0; i < 2000; i++) {
      const client = clients[i % clients.length] as Client;
      ended.push(
        new Promise((resolve) => {
          calls.push(
            client.makeClientStreamRequest("/sluice.v1.IngestionService/WriteFeatures", identity, identity, new Metadata(), {}, (error) =>
              resolve(error ? error.code : status.OK),
            ),
          );
        }),
      );
    }
    // Let every stream reach the server, then measure while all of them are open.
    await new Promise((resolve) => setTimeout(resolve, IDLE_TIMEOUT_MS / 2));
    const during = residentBytes(server.child.pid as number);
    const codes = await Promise.all(ended);
    console.log(
      `2,000 idle streams: server RSS +${Math.round((during - before) / 2 ** 20)} MB (bound ${IDLE_STREAMS_RSS_BOUND / 2 ** 20} MB)`,
    );
    expect(during - before).toBeLessThan(IDLE_STREAMS_RSS_BOUND);
    expect(new Set(codes)).toEqual(new Set([status.DEADLINE_EXCEEDED]));
    for (const client of clients) client.close();
  }, 60_000);

  it("holds retrievals whose client never reads in bounded memory and ends them once stalled", async () => {
    const rows = 50_000;
    const spine = {
      spineBatch: {
        columns: {
          entityKey: { user_id: { int64Values: { values: Array.from({ length: rows }, (_, i) => String(i)) } } },
          eventTimeMicros: Array.from({ length: rows }, () => "1767225600000000"),
        },
      },
    };
    const query = { query: { project: "projects/default", features: ["clicks:n"], inlineSpine: true, chunkRows: 100 } };
    const path = "/sluice.v1.TrainingService/GetHistoricalFeatures";
    const framed = (message: Buffer) => {
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(message.length, 1);
      return Buffer.concat([prefix, message]);
    };
    const body = Buffer.concat([framed(setup.encode(path, query)), framed(setup.encode(path, spine))]);
    // A raw HTTP/2 client, because grpc-js's client keeps reading into its own buffer even when
    // paused: a paused stream here really reads nothing, so flow control stops the server's writes.
    const session = connectHttp2(`http://${server.address}`);
    const start = (reading: boolean) =>
      Array.from({ length: 20 }, () => {
        const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
        const trailers = new Promise<number>((resolve) => {
          stream.on("trailers", (headers: IncomingHttpHeaders) => resolve(Number(headers["grpc-status"])));
          stream.on("close", () => resolve(-1));
        });
        if (reading) stream.on("data", () => undefined);
        else stream.pause();
        stream.end(body);
        return { stream, trailers };
      });
    // First the same retrievals read by a fast client: the memory the queries themselves need
    // (the engine's, the spines') is reached, so what follows measures only what slow readers add.
    expect(new Set(await Promise.all(start(true).map((call) => call.trailers)))).toEqual(new Set([status.OK]));
    const before = residentBytes(server.child.pid as number);
    const stalled = start(false);
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, residentBytes(server.child.pid as number));
    }, 100);
    // Long enough for the server to end every stalled stream; then read what arrived, up to the status.
    await new Promise((resolve) => setTimeout(resolve, IDLE_TIMEOUT_MS * 3));
    clearInterval(sampler);
    for (const { stream } of stalled) {
      stream.on("data", () => undefined);
      stream.resume();
    }
    const codes = await Promise.all(stalled.map((call) => call.trailers));
    session.close();
    console.log(
      `20 stalled readers: server RSS +${Math.round((peak - before) / 2 ** 20)} MB at peak (bound ${SLOW_READERS_RSS_BOUND / 2 ** 20} MB)`,
    );
    expect(peak - before).toBeLessThan(SLOW_READERS_RSS_BOUND);
    expect(new Set(codes)).toEqual(new Set([status.DEADLINE_EXCEEDED]));
    // The server still answers others promptly.
    expect(
      (await setup.call("/sluice.v1.RegistryService/ListProjects", [setup.encode("/sluice.v1.RegistryService/ListProjects", {})])).code,
    ).toBe(status.OK);
  }, 90_000);
});
