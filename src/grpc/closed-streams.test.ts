import { once } from "node:events";
import type { Http2Server, Http2Stream } from "node:http2";
import { credentials, Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { afterEach, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, HealthClient } from "../gen/grpc/health/v1/health.pb.js";
import { releaseClosedStreams } from "./closed-streams.js";

/** Records the HTTP/2 streams of a grpc-js server (wrapping the same factory releaseClosedStreams wraps). */
function recordStreams(server: Server): Http2Stream[] {
  const streams: Http2Stream[] = [];
  const factory = server as unknown as { createHttp2Server: (c: ServerCredentials) => Http2Server };
  const create = factory.createHttp2Server;
  factory.createHttp2Server = (c) => {
    const http2Server = create.call(server, c);
    http2Server.on("stream", (stream: Http2Stream) => streams.push(stream));
    return http2Server;
  };
  return streams;
}

async function healthCheck(server: Server, release: boolean): Promise<Http2Stream[]> {
  if (release) expect(releaseClosedStreams(server)).toBe(true);
  const streams = recordStreams(server);
  new HealthImplementation({ "": "SERVING" }).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    const answer = await new Promise((resolve, reject) =>
      client.check({ service: "" }, (error, response) => (error ? reject(error) : resolve(response))),
    );
    expect(answer).toEqual({ status: HealthCheckResponse_ServingStatus.SERVING });
  } finally {
    client.close();
  }
  // The stream closes right after the answer; the release runs on the turn after its close.
  await Promise.all(streams.map((stream) => (stream.closed ? undefined : once(stream, "close"))));
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return streams;
}

const listeners = (stream: Http2Stream) => stream.eventNames().map((name) => [String(name), stream.listenerCount(name)]);

describe("releaseClosedStreams", () => {
  let server: Server | undefined;
  afterEach(() => server?.forceShutdown());

  it("leaves a closed stream of a real grpc-js server with no listener but a no-op for errors", async () => {
    server = new Server();
    const [stream] = await healthCheck(server, true);
    expect(stream?.closed).toBe(true);
    expect(listeners(stream as Http2Stream)).toEqual([["error", 1]]);
    expect(() => stream?.emit("error", new Error("late"))).not.toThrow();
  });

  it("is what empties them: without it grpc-js leaves its listeners on closed streams", async () => {
    server = new Server();
    const [stream] = await healthCheck(server, false);
    expect(stream?.closed).toBe(true);
    expect((stream as Http2Stream).eventNames().length).toBeGreaterThan(1);
  });

  it("changes nothing, and says so, on a server without the factory it wraps", () => {
    const server = {} as Server;
    expect(releaseClosedStreams(server)).toBe(false);
    expect(server).toEqual({});
  });
});
