/**
 * What the gRPC benchmarks stand beside: a raw unary caller (bytes in, bytes out), the raw echo
 * server in its own process, a raw LMDB read of one online record, and the feature view the
 * online and serving benchmarks read (10 double features on `stats`, keyed by customer_id).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Client, credentials, Metadata, makeGenericClientConstructor, type ServiceDefinition } from "@grpc/grpc-js";
import { open } from "lmdb";
import { type SluiceClient, typed } from "../clients/typescript/src/index.js";
import { decodeRecord, encodeRecord } from "../src/storage/online/record-codec.js";
import { binNodeFlags } from "../test/support/server-process.js";
import { ECHO_PATH, ECHO_SERVICE } from "./echo-server.js";
import { sequentialLatency } from "./support.js";

/** The features of the benchmark view. */
export const FEATURES = Array.from({ length: 10 }, (_, i) => `f${i}`);
const ROOT = join(import.meta.dirname, "..");

/** Sluice with 10 double features on `stats`, keyed by int64 customer_id. */
export async function prepareView(client: SluiceClient, entities: number): Promise<void> {
  await client.applyEntity({ name: "customer", joinKeys: [{ name: "customer_id", type: "int64" }] });
  await client.applyFeatureView({
    name: "stats",
    entity: "customer",
    features: FEATURES.map((name) => ({ name, type: "double" as const })),
  });
  for (let start = 0; start < entities; start += 1000) {
    await client.writeFeatureBatch({
      featureView: "stats",
      rows: Array.from({ length: Math.min(1000, entities - start) }, (_, i) => ({
        entityKey: { customer_id: BigInt(start + i) },
        eventTime: new Date(),
        features: Object.fromEntries(FEATURES.map((f, j) => [f, typed.double(start + i + j / 10)])),
      })),
    });
  }
}

/**
 * A unary call on `path` that sends and receives raw bytes: no protobuf work on the client, so a
 * comparison of two servers through it compares only what the servers do.
 */
export function rawUnary(
  address: string,
  path: string,
  headers: Record<string, string> = {},
): { call: (payload: Buffer) => Promise<Buffer>; close: () => void } {
  const Raw = makeGenericClientConstructor({ call: { ...ECHO_SERVICE.echo, path } } as ServiceDefinition, "Raw");
  const client = new Raw(address, credentials.createInsecure()) as unknown as Client & {
    call: (request: Buffer, metadata: Metadata, callback: (error: unknown, response: Buffer) => void) => void;
  };
  // Built once and copied per call, as a client that sends the same key with every call does.
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return {
    call: (payload) =>
      new Promise((resolve, reject) =>
        client.call(payload, metadata.clone(), (error, response) => (error ? reject(error) : resolve(response))),
      ),
    close: () => client.close(),
  };
}

/** The echo floor in its own process, answering with `responseBytes` bytes. */
export async function startEcho(
  responseBytes: number,
): Promise<{ address: string; call: (payload: Buffer) => Promise<Buffer>; close: () => void }> {
  const child = spawn(
    process.execPath,
    [...binNodeFlags(), "--import", "tsx", join(import.meta.dirname, "echo-server.ts"), String(responseBytes)],
    {
      cwd: ROOT,
    },
  );
  const port = await new Promise<number>((resolve) =>
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) =>
      resolve((JSON.parse(line) as { port: number }).port),
    ),
  );
  const address = `127.0.0.1:${port}`;
  const echo = rawUnary(address, ECHO_PATH);
  return {
    address,
    call: echo.call,
    close: () => {
      echo.close();
      child.kill();
    },
  };
}

/** One LMDB get and decode of a 10-feature record: the floor of an embedded online read. */
export function rawLmdbRead() {
  const directory = mkdtempSync(join(tmpdir(), "sluice-bench-lmdb-"));
  const db = open({ path: directory, encoding: "binary" });
  const record = encodeRecord({ eventTime: 1, ingestTime: 1, values: Object.fromEntries(FEATURES.map((f, i) => [f, i / 3])) });
  db.putSync("k", record);
  const latency = sequentialLatency(async () => decodeRecord(db.get("k") as Buffer), 20_000);
  return latency.finally(() => {
    db.close();
    rmSync(directory, { recursive: true, force: true });
  });
}
