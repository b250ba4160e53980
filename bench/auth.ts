/**
 * The cost of authentication: GetOnlineFeatures and Predict p50 on a server with authentication
 * on, called with an API key and with a JWT (cached verification after the first call), beside
 * the same calls on an identical server with authentication off, in the same run. Calls alternate
 * between the servers (a, b, a, b, ...) over several rounds, and the medians of the rounds'
 * ratios are reported; the target is at most 5% added to p50.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { DEFAULT_CONFIG } from "../src/config/config.js";
import { WriteFeatureBatchRequest } from "../src/gen/sluice/v1/ingestion.pb.js";
import { createWireLimits } from "../src/grpc/wire-limits.js";
import { apiKeyHash } from "../src/security/access-control.js";
import { onlineReadCaller, predictCaller, startServing } from "./serving.js";
import { type Latency, median, pairedLatency, saveResult } from "./support.js";

const ADMIN_KEY = "sk_bench_admin_key_0123456789abcdef";
const READER_KEY = "sk_bench_reader_key_0123456789abcdef";

export async function authBenchmark(quick: boolean): Promise<void> {
  const iterations = quick ? 500 : 4000;
  const rounds = quick ? 1 : 3;
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwksFile = join(tmpdir(), `sluice-bench-jwks-${process.pid}.json`);
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256", use: "sig" }] }));
  const token = await new SignJWT({ sluice_roles: ["default:viewer"] })
    .setProtectedHeader({ alg: "ES256", kid: "bench" })
    .setSubject("bench-reader")
    .setIssuer("https://idp.bench")
    .setAudience("sluice")
    .setExpirationTime("2h")
    .sign(privateKey);

  const open = await startServing([]);
  const secured = await startServing([], {
    apiKey: ADMIN_KEY,
    env: {
      SLUICE_AUTH_ENABLED: "true",
      SLUICE_AUTH_API_KEYS: JSON.stringify([
        { principal: "bench-admin", sha256: apiKeyHash(ADMIN_KEY), roles: ["*:admin"] },
        { principal: "bench-reader", sha256: apiKeyHash(READER_KEY), roles: ["default:viewer"] },
      ]),
      SLUICE_AUTH_JWT_JWKS_FILE: jwksFile,
      SLUICE_AUTH_JWT_ISSUER: "https://idp.bench",
      SLUICE_AUTH_JWT_AUDIENCE: "sluice",
    },
  });
  const withKey = { authorization: `Bearer ${READER_KEY}` };
  const withToken = { authorization: `Bearer ${token}` };
  const calls = {
    getOnlineFeatures: {
      off: onlineReadCaller(open.server.address),
      apiKey: onlineReadCaller(secured.server.address, withKey),
      jwt: onlineReadCaller(secured.server.address, withToken),
    },
    predict: {
      off: predictCaller(open.server.address, "lr"),
      apiKey: predictCaller(secured.server.address, "lr", withKey),
      jwt: predictCaller(secured.server.address, "lr", withToken),
    },
  };
  const results: Record<string, unknown> = { rounds, iterationsPerRound: iterations };
  try {
    for (const [method, callers] of Object.entries(calls)) {
      const perMethod: Record<string, unknown> = {};
      for (const credential of ["apiKey", "jwt"] as const) {
        const measured: Array<{ off: Latency; on: Latency }> = [];
        for (let round = 0; round < rounds; round++) {
          // The order alternates between rounds too, so neither side always goes first.
          const [off, on] =
            round % 2 === 0
              ? await pairedLatency(callers.off.call, callers[credential].call, iterations)
              : await pairedLatency(callers[credential].call, callers.off.call, iterations).then(([b, a]) => [a, b] as const);
          measured.push({ off, on });
        }
        const medianRatio = median(measured.map((m) => m.on.p50Us / m.off.p50Us));
        perMethod[credential] = {
          rounds: measured.map((m) => ({ offP50Us: m.off.p50Us, onP50Us: m.on.p50Us, offP99Us: m.off.p99Us, onP99Us: m.on.p99Us })),
          medianP50Ratio: Number(medianRatio.toFixed(3)),
          addedP50Percent: Number(((medianRatio - 1) * 100).toFixed(1)),
          target: { addedP50PercentAtMost: 5, met: medianRatio <= 1.05 },
        };
      }
      results[method] = perMethod;
    }
  } finally {
    for (const callers of Object.values(calls)) for (const caller of Object.values(callers)) caller.close();
    for (const { client, server } of [open, secured]) {
      client.close();
      server.child.kill("SIGTERM");
      await server.exited;
    }
  }
  results.wireScan = wireScanCost();
  saveResult("auth", results);
}

/**
 * What the guard's wire check costs on a 1 MB WriteFeatureBatch, as rows and as columns, beside
 * decoding the same bytes (what it spares a refused request) and a plain loop reading every byte
 * once (the floor of any scan). Medians of 9 runs of 30.
 */
function wireScanCost(): Record<string, unknown> {
  const check = createWireLimits(DEFAULT_CONFIG.limits);
  const path = "/sluice.v1.IngestionService/WriteFeatureBatch";
  const n = 60_000;
  // ts-proto's DeepPartial of a map of oneofs is stricter than the literals it accepts at run time.
  const encode = (partial: object) =>
    Buffer.from(WriteFeatureBatchRequest.encode(WriteFeatureBatchRequest.fromPartial(partial as never)).finish());
  const forms = {
    rows: encode({
      featureView: "customer_stats",
      rows: Array.from({ length: 10_500 }, (_, i) => ({
        entityKey: { customer_id: { int64Value: BigInt(i) } },
        eventTime: { seconds: 1_700_000_000n, nanos: 0 },
        features: { orders: { int64Value: 3n }, spend: { doubleValue: 9.5 }, country: { stringValue: "FR" }, active: { boolValue: true } },
      })),
    }),
    columns: encode({
      featureView: "customer_stats",
      columns: {
        eventTimeMicros: Array.from({ length: n }, () => 1_700_000_000_000_000n),
        entityKey: { customer_id: { int64Values: { values: Array.from({ length: n }, (_, i) => BigInt(i)) } } },
        features: { spend: { doubleValues: { values: Array.from({ length: n }, (_, i) => i) } } },
      },
    }),
  };
  /** The median of 9 timings of `run` (ms per run, each the mean of `times` runs). */
  const medianMs = (run: () => unknown, times: number) =>
    Number(
      median(
        Array.from({ length: 9 }, () => {
          const started = performance.now();
          for (let i = 0; i < times; i++) run();
          return (performance.now() - started) / times;
        }),
      ).toFixed(3),
    );
  return Object.fromEntries(
    Object.entries(forms).map(([form, bytes]) => {
      const floorMs = medianMs(() => {
        let sum = 0;
        for (let i = 0; i < bytes.length; i++) sum += bytes[i] as number;
        return sum;
      }, 30);
      const scanMs = medianMs(() => check(path, bytes), 30);
      const decodeMs = medianMs(() => WriteFeatureBatchRequest.decode(bytes), 3);
      return [form, { megabytes: Number((bytes.length / 1e6).toFixed(2)), scanMs, floorMs, decodeMs }];
    }),
  );
}

// biome-ignore lint/suspicious/noExplicitAny: the JSON authBenchmark itself wrote, read back only to print it
type Json = Record<string, any>;

/** The section of docs/benchmarks.md for the auth benchmark's JSON. */
export function authSection(result: Json): string {
  const met = (ok: boolean) => `**${ok ? "met" : "not met"}**`;
  const rows = (["getOnlineFeatures", "predict"] as const).flatMap((method) =>
    (["apiKey", "jwt"] as const).map((credential) => {
      const r = result[method][credential];
      const offP50 = r.rounds.map((round: Json) => round.offP50Us).join(" / ");
      const onP50 = r.rounds.map((round: Json) => round.onP50Us).join(" / ");
      return `| \`${method === "predict" ? "Predict" : "GetOnlineFeatures"}\` | ${credential === "apiKey" ? "API key" : "JWT (cached)"} | ${onP50} | ${offP50} | ${r.medianP50Ratio} | ${r.addedP50Percent >= 0 ? "+" : ""}${r.addedP50Percent}% ≤ 5%: ${met(r.target.met)} |`;
    }),
  );
  const wireRows = Object.entries(result.wireScan ?? {}).map(
    ([form, w]) => `| ${form} | ${(w as Json).megabytes} | ${(w as Json).scanMs} | ${(w as Json).floorMs} | ${(w as Json).decodeMs} |`,
  );
  return `## Authentication

\`npm run bench -- auth\`: the same calls on two identical servers, one with \`auth.enabled\` (API keys and a JWKS
file configured) and one without, alternated call by call, ${result.rounds} rounds of ${result.iterationsPerRound}
calls each (the order of the pair alternates between rounds). The JWT is an ES256 token, verified once and then
served from the verification cache, as a client reusing its token sees it. The guard itself (rules, wire limits,
audit hooks) runs on both servers, so the difference is what authentication and authorization add.

| call | credential | p50 µs with auth, per round | p50 µs without, per round | median ratio | target |
| ---- | ---------- | --------------------------- | ------------------------- | ------------ | ------ |
${rows.join("\n")}

The wire check the guard runs on every request before decoding it (\`src/grpc/wire-limits.ts\`), on a 1 MB
\`WriteFeatureBatch\`, beside decoding the same bytes and a loop that reads every byte once (medians, ms):

| form | MB | wire check | read every byte | decode |
| ---- | -- | ---------- | --------------- | ------ |
${wireRows.join("\n")}
`;
}
