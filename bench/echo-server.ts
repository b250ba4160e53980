/**
 * The floor of every gRPC benchmark: a raw grpc-js unary echo in its own process, with the same
 * server options as Sluice and the same release of closed HTTP/2 streams, so the difference to it
 * is what Sluice itself costs. Started with a
 * byte count, it answers every request with that many bytes (the size of the Sluice response it
 * stands beside) instead of echoing the request.
 */
import { Server, ServerCredentials, type ServiceDefinition } from "@grpc/grpc-js";
import { releaseClosedStreams } from "../src/grpc/closed-streams.js";

/** The echo's method path. */
export const ECHO_PATH = "/bench.Echo/Echo";

/** A unary method whose messages are raw bytes, echoed back unchanged. */
export const ECHO_SERVICE: ServiceDefinition = {
  echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (value: Buffer) => value,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (value: Buffer) => value,
  },
};

if (process.argv[1] === import.meta.filename) {
  // Without channelz tracking, as the server runs.
  const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.enable_channelz": 0 });
  if (!releaseClosedStreams(server)) throw new Error("the echo floor needs the release of closed streams the server has");
  const responseBytes = process.argv[2] === undefined ? undefined : Buffer.alloc(Number(process.argv[2]), 1);
  server.addService(ECHO_SERVICE, {
    echo: (call: { request: Buffer }, callback: (e: null, v: Buffer) => void) => callback(null, responseBytes ?? call.request),
  });
  server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    process.stdout.write(`${JSON.stringify({ msg: "echo serving", port })}\n`);
  });
}
