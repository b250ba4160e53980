/** Ports for tests: never a fixed one, so tests run beside each other and beside any other server. */
import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1, found by binding port 0 and closing it again. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** "127.0.0.1:PORT" where nothing listens (a port that was just free), for tests of a server that does not answer. */
export async function unusedAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

/** Holds a port on 127.0.0.1 until `close`, for tests of a port another process has taken. */
export async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("no port");
  return { port: address.port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
