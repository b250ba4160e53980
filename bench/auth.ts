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
import { apiKeyHash } from "../src/security/access-control.js";
import { onlineReadCaller, predictCaller, startServing } from "./serving.js";
import { type Latency, pairedLatency, saveResult } from "./support.js";

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
        const ratios = measured.map((m) => m.on.p50Us / m.off.p50Us).sort((a, b) => a - b);
        const medianRatio = ratios[Math.floor(ratios.length / 2)] as number;
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
  saveResult("auth", results);
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
      return `| \`${method === "predict" ? "Predict" : "GetOnlineFeatures"}\` | ${credential === "apiKey" ? "API key" : "JWT (cached)"} | ${onP50} | ${offP50} | ${r.medianP50Ratio} | +${r.addedP50Percent}% ≤ 5%: ${met(r.target.met)} |`;
    }),
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
`;
}
