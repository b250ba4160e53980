/**
 * deploy/ cannot be run here (no container engine), so this checks what can be checked without one:
 * every YAML file and the Dockerfile parse; the configuration each file gives Sluice passes
 * `sluice serve --check-config` with the intended backends; the Dockerfile builds with the commands CI
 * runs, and its replica target leaves out only chDB, which such a server does not load; the image's
 * health check finds the configured address of a real server; the Compose health checks and nginx.conf
 * (through `nginx -t`) work as written; and the files agree with each other (ports, user, probes,
 * labels, names).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { nginxMissing, skipWithoutToolchain } from "../support/client-toolchains.js";
import { atLeast, renderNginxConf, replaceExactly } from "../support/nginx-conf.js";
import { freePort } from "../support/redis-harness.js";
import { binNodeFlags } from "../support/server-process.js";

const root = join(import.meta.dirname, "../..");
const deploy = join(root, "deploy");
const read = (path: string) => readFileSync(join(root, path), "utf8");
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

// biome-ignore lint/suspicious/noExplicitAny: the documents are checked field by field below.
type Doc = any;

/** Every document of a YAML file (merge keys on, as Docker Compose reads them); fails on any error. */
function yamlDocuments(path: string): Doc[] {
  const documents = parseAllDocuments(read(path), { merge: true });
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list)
    expect(
      document.errors.map((e) => e.message),
      path,
    ).toEqual([]);
  return list.map((d) => d.toJS());
}

/** The test's environment without SLUICE_* variables: only those of the file under test count. */
function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("SLUICE_")));
}

/** Runs `sluice` from source; `node` adds Node options (after tsx's, so their loader hooks run first). */
function sluice(
  args: string[],
  env: Record<string, string>,
  node: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, ...node, join(root, "src/cli/main.ts"), ...args],
      { cwd: root, env: { ...cleanEnv(), ...env } },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** The merged config `sluice serve --check-config` prints for these arguments and environment. */
async function checkConfig(args: string[], env: Record<string, string>): Promise<{ code: number; config?: Doc; stderr: string }> {
  const { code, stdout, stderr } = await sluice(["serve", ...args, "--check-config"], env);
  return { code, config: code === 0 ? JSON.parse(stdout.slice(0, stdout.lastIndexOf("}") + 1)) : undefined, stderr };
}

/** A value as Docker Compose interpolates it: `$$` is a literal `$`; `${NAME:-default}` and `${NAME}` come from the host. */
function interpolate(value: string, host: Record<string, string> = {}): string {
  return value.replace(/\$\$|\$\{(\w+)(?::-([^}]*))?\}/g, (match, name, fallback) => (match === "$$" ? "$" : host[name] || fallback || ""));
}

// The Dockerfile, parsed as Docker reads it.

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

const KEYWORDS = [
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
];

/** A JSON array of strings (the exec form of CMD, ENTRYPOINT, VOLUME), or a failure naming the instruction. */
function execForm(instruction: string, text: string): string[] {
  const parsed = JSON.parse(text);
  expect(Array.isArray(parsed) && parsed.every((a) => typeof a === "string"), `${instruction} ${text}`).toBe(true);
  return parsed;
}

/**
 * The stages of a Dockerfile: continuation lines joined, comments dropped. Fails on an unknown
 * instruction, an unnamed or duplicate stage, a COPY --from a stage not defined before, or an
 * instruction not in the form this project uses (exec form for what runs the server).
 */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line) || (!pending && !line.trim())) continue;
    pending = pending ? `${pending} ${line.trim()}` : line.trim();
    if (pending.endsWith("\\")) {
      pending = pending.slice(0, -1).trimEnd();
      continue;
    }
    const [, keyword = "", args = ""] = /^(\S+)\s+(.*)$/.exec(pending) ?? [];
    pending = "";
    expect(KEYWORDS, `unknown instruction "${keyword}"`).toContain(keyword);
    if (keyword === "FROM") {
      const from = /^(\S+) AS ([a-z][a-z0-9_.-]*)$/.exec(args);
      expect(from, `FROM ${args}: every stage is named`).not.toBeNull();
      expect(stages.map((s) => s.name)).not.toContain(from?.[2]);
      stages.push({ base: from?.[1] as string, name: from?.[2] as string, instructions: [] });
      continue;
    }
    expect(stages.length, `${keyword} before the first FROM`).toBeGreaterThan(0);
    const from = /^--from=(\S+)/.exec(args)?.[1];
    if ((keyword === "COPY" || keyword === "ADD") && from) expect(stages.slice(0, -1).map((s) => s.name)).toContain(from);
    if (keyword === "CMD" || keyword === "ENTRYPOINT" || keyword === "VOLUME") execForm(keyword, args);
    if (keyword === "HEALTHCHECK") {
      const check = /^(?:--(?:interval|timeout|start-period|start-interval|retries)=\S+ )*CMD (\[.*\])$/.exec(args);
      expect(check, `HEALTHCHECK ${args}`).not.toBeNull();
      execForm(keyword, check?.[1] as string);
    }
    // One variable per ENV, its value bare or double-quoted (NODE_OPTIONS holds two flags).
    if (keyword === "ENV") expect(args, `ENV ${args}`).toMatch(/^\w+=(\S+|"[^"\\]*")$/);
    if (keyword === "EXPOSE") expect(args, `EXPOSE ${args}`).toMatch(/^\d+(\/(tcp|udp))?( \d+(\/(tcp|udp))?)*$/);
    stages.at(-1)?.instructions.push({ keyword, args });
  }
  expect(pending, "a continuation line at the end").toBe("");
  return stages;
}

const stages = parseDockerfile(read("deploy/Dockerfile"));
/** The stages a target is built from, base first (a FROM naming an earlier stage continues it). */
function chain(target: string): Stage[] {
  const stage = stages.find((s) => s.name === target);
  if (!stage) throw new Error(`no stage ${target} in deploy/Dockerfile`);
  return stages.some((s) => s.name === stage.base) ? [...chain(stage.base), stage] : [stage];
}
const instructions = (target: string, keyword: string) =>
  chain(target)
    .flatMap((s) => s.instructions)
    .filter((i) => i.keyword === keyword)
    .map((i) => i.args);
/** What a target's image has for a one-value instruction (CMD, USER...): the last one in its stages. */
const effective = (target: string, keyword: string) => instructions(target, keyword).at(-1) as string;
/** The SLUICE_* variables an image sets (`ENV KEY=value`), under every environment below. */
const imageEnv = (target: string) =>
  Object.fromEntries(
    instructions(target, "ENV")
      .filter((e) => e.startsWith("SLUICE_"))
      .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
/** The stage a target's node_modules (copied once) comes from. */
function modulesFrom(target: string): string {
  const copies = instructions(target, "COPY").filter((c) => c.endsWith(" ./node_modules"));
  expect(copies, target).toHaveLength(1);
  return /^--from=(\S+) \/app\/node_modules \.\/node_modules$/.exec(copies[0] as string)?.[1] as string;
}

// nginx: deploy/nginx.conf is a template for the nginx image, which needs nginx >= 1.27.3.

const compose = yamlDocuments("deploy/docker-compose.yml")[0];
const kubernetes = readdirSync(join(deploy, "kubernetes"))
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) => yamlDocuments(`deploy/kubernetes/${f}`).map((doc) => ({ file: f, doc })));
const byKind = (kind: string) => kubernetes.filter((k) => k.doc.kind === kind).map((k) => k.doc);

describe("deploy/ YAML", () => {
  it("parses, every file of it", () => {
    const files = readdirSync(deploy, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
      .map((e) => relative(root, join(e.parentPath, e.name)));
    expect(files).toEqual(expect.arrayContaining(["deploy/docker-compose.yml", "deploy/kubernetes/deployment.yaml"]));
    for (const file of files) expect(yamlDocuments(file).length).toBeGreaterThan(0);
    for (const { file, doc } of kubernetes) {
      expect(doc, file).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String) });
      if (doc.kind !== "Kustomization") expect(doc.metadata?.name, file).toMatch(/^[a-z0-9-]+$/);
    }
    const kustomization = byKind("Kustomization")[0];
    const resources = readdirSync(join(deploy, "kubernetes")).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(resources.sort());
  });
});

describe("deploy/docker-compose.yml", () => {
  const replicas = Object.entries(compose.services as Record<string, Doc>).filter(([, s]) => s.build?.dockerfile === "deploy/Dockerfile");

  it("runs two Sluice replicas (the replica image) on Redis and ClickHouse, whose environment passes --check-config", async () => {
    expect(replicas.map(([name]) => name)).toEqual(["sluice-a", "sluice-b"]);
    for (const [name, service] of replicas) {
      expect(service.build).toEqual({ context: "..", dockerfile: "deploy/Dockerfile", target: "replica" });
      // As Compose interpolates ${CLICKHOUSE_PASSWORD:-sluice} when the variable is unset.
      const env = Object.fromEntries(
        Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v))]),
      );
      const { code, config, stderr } = await checkConfig(execForm("CMD", effective("replica", "CMD")), { ...imageEnv("replica"), ...env });
      expect(code, `${name}: ${stderr}`).toBe(0);
      expect(config).toMatchObject({
        listen: "0.0.0.0:50051",
        dataDir: "/var/lib/sluice",
        registry: { backend: "redis", redisUrl: "redis://redis:6379" },
        online: { backend: "redis", redisUrl: "redis://redis:6379" },
        // A ClickHouse server, not the embedded engine the replica image leaves out.
        offline: {
          backend: "clickhouse",
          clickhouseUrl: "http://clickhouse:8123",
          clickhouseUsername: "sluice",
          clickhousePassword: "(set)", // printed masked
        },
        serving: { modelDir: "/var/lib/sluice-models" },
        metrics: { listen: "0.0.0.0:9464" },
      });
      // Docker must not kill a server that is still draining.
      expect(Number.parseInt(service.stop_grace_period, 10) * 1000).toBeGreaterThan(config.grpc.shutdownGraceMs);
      expect(Object.keys(service.depends_on).sort()).toEqual(["clickhouse", "redis"]);
      // Only the model files are shared: each replica locks its own data directory (the image's anonymous volume).
      expect(service.volumes).toEqual([`models:${config.serving.modelDir}`]);
    }
    expect(Object.keys(compose.volumes)).toContain("models");
    expect(compose.services.clickhouse.environment.CLICKHOUSE_USER).toBe("sluice");
    expect(compose.services.clickhouse.environment.CLICKHOUSE_PASSWORD).toBe(
      replicas[0]?.[1].environment.SLUICE_OFFLINE_CLICKHOUSE_PASSWORD,
    );
  });

  it("checks ClickHouse's health with the image's own client, as the user the image creates", () => {
    const [kind, command] = compose.services.clickhouse.healthcheck.test as string[];
    expect(kind).toBe("CMD-SHELL");
    expect(command).not.toMatch(/\b(wget|curl)\b/);
    // Docker runs it with `/bin/sh -c` in the container's environment; a stand-in clickhouse-client
    // records the arguments it gets. The password has characters the shell must not interpret.
    const bin = mkdtempSync(join(tmpdir(), "sluice-clickhouse-"));
    writeFileSync(join(bin, "clickhouse-client"), `#!/bin/sh\nprintf '%s\\n' "$@" > "$0.args"\n`);
    chmodSync(join(bin, "clickhouse-client"), 0o755);
    const host = { CLICKHOUSE_PASSWORD: `it's a "$secret" *` };
    const env = Object.fromEntries(
      Object.entries(compose.services.clickhouse.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v), host)]),
    );
    execFileSync("/bin/sh", ["-c", interpolate(command as string, host)], { env: { PATH: `${bin}:${process.env.PATH}`, ...env } });
    const args = readFileSync(join(bin, "clickhouse-client.args"), "utf8").split("\n").slice(0, -1);
    expect(args).toEqual(["--user", "sluice", "--password", host.CLICKHOUSE_PASSWORD, "--query", "SELECT 1"]);
  });

  it("puts one nginx gRPC address in front of exactly those replicas, re-resolving their names", () => {
    const nginx = read("deploy/nginx.conf");
    const upstreams = [...nginx.matchAll(/^\s*server ([\w-]+):(\d+) (.*);$/gm)];
    expect(upstreams.map((m) => `${m[1]}:${m[2]}`)).toEqual(replicas.map(([name]) => `${name}:50051`));
    // Looked up again while nginx runs, so a recreated replica (a new address) is found without a reload.
    for (const server of upstreams) expect(server[3]?.split(" ")).toContain("resolve");
    expect(nginx).toMatch(/^\s*zone sluice \d+k;$/m);
    expect(nginx).toMatch(/^\s*resolver \$\{NGINX_LOCAL_RESOLVERS\} valid=\d+s\b.*;$/m);
    // HTTP/2 with the `http2` directive: `listen ... http2` is deprecated since nginx 1.25.1.
    expect(nginx).not.toMatch(/^\s*listen [^;]*\bhttp2\b/m);
    expect(nginx).toMatch(/^\s*listen 50051;$/m);
    expect(nginx).toMatch(/^\s*http2 on;$/m);
    expect(nginx).toMatch(/grpc_pass grpc:\/\/sluice;/);
    expect(compose.services["grpc-lb"].ports).toEqual(["127.0.0.1:50051:50051"]);
    expect(Object.keys(compose.services["grpc-lb"].depends_on).sort()).toEqual(replicas.map(([name]) => name));
  });

  it("runs an nginx that has `resolve` (>= 1.27.3), which renders nginx.conf as its /etc/nginx/nginx.conf", () => {
    const lb = compose.services["grpc-lb"];
    const [, major, minor, patch] = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?-alpine$/.exec(lb.image) ?? [];
    expect(major, lb.image).toBeDefined();
    // A tag without a patch level (1.30) gets that line's newest release: x.y.0 is the oldest it can be.
    expect(atLeast([major, minor, patch ?? "0"].map(Number), [1, 27, 3]), lb.image).toBe(true);
    // The image's entrypoint runs envsubst on /etc/nginx/templates/<name>.template into
    // $NGINX_ENVSUBST_OUTPUT_DIR/<name>, after setting NGINX_LOCAL_RESOLVERS from /etc/resolv.conf.
    const [source, template, mode] = (lb.volumes as string[])[0]?.split(":") ?? [];
    expect([source, mode]).toEqual(["./nginx.conf", "ro"]);
    expect(
      `${lb.environment.NGINX_ENVSUBST_OUTPUT_DIR}/${template?.replace(/^\/etc\/nginx\/templates\//, "").replace(/\.template$/, "")}`,
    ).toBe("/etc/nginx/nginx.conf");
    expect(lb.environment.NGINX_ENTRYPOINT_LOCAL_RESOLVERS).toBeTruthy();
    // Only that variable is substituted: an nginx $variable stays as it is.
    const variables = [...read("deploy/nginx.conf").matchAll(/\$\{?(\w+)/g)].map((m) => m[1] as string);
    expect([...new Set(variables)]).toEqual(["NGINX_LOCAL_RESOLVERS"]);
    expect(variables.filter((v) => new RegExp(lb.environment.NGINX_ENVSUBST_FILTER).test(v))).toEqual(variables);
  });

  it.skipIf(skipWithoutToolchain("nginx -t of deploy/nginx.conf", nginxMissing()))("has an nginx.conf that nginx accepts", () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-nginx-"));
    // Docker's DNS server, as the image's entrypoint finds it in a Compose network.
    let { conf, resolvedAtStart } = renderNginxConf("127.0.0.11");
    // Names resolved at start must resolve here.
    if (resolvedAtStart) conf = replaceExactly(conf, /server sluice-[ab]:50051/g, "server 127.0.0.1:50051", 2);
    writeFileSync(join(dir, "nginx.conf"), conf);
    const output = execFileSync(
      "nginx",
      ["-t", "-p", dir, "-c", join(dir, "nginx.conf"), "-g", `pid ${dir}/nginx.pid; error_log ${dir}/error.log;`],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    expect(output).toBe("");
  });
});

describe("deploy/kubernetes", () => {
  const deployment = byKind("Deployment")[0];
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const configMap = byKind("ConfigMap")[0];

  it("gives Sluice a config (ConfigMap, arguments, environment) that passes --check-config", async () => {
    const mount = container.volumeMounts.find((m: Doc) => m.name === "config");
    const volume = pod.volumes.find((v: Doc) => v.name === "config");
    expect(volume.configMap.name).toBe(configMap.metadata.name);
    const dir = mkdtempSync(join(tmpdir(), "sluice-k8s-"));
    for (const [file, text] of Object.entries(configMap.data as Record<string, string>)) writeFileSync(join(dir, file), text);
    const args = (container.args as string[]).map((a) => a.replace(mount.mountPath, dir));
    // A stand-in for every secretKeyRef: a valid bootstrap key list for the API keys, text for the rest.
    const standIn = (name: string) =>
      name === "SLUICE_AUTH_API_KEYS"
        ? JSON.stringify([{ principal: "ops", sha256: "0".repeat(64), roles: ["*:admin"] }])
        : "from-the-secret";
    const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value ?? standIn(e.name)]));
    const { code, config, stderr } = await checkConfig(args, { ...imageEnv("replica"), ...env });
    expect(code, stderr).toBe(0);
    // The variables Kubernetes adds for a Service named sluice are ignored (and turned off anyway).
    expect(pod.enableServiceLinks).toBe(false);
    const serviceLinks = await checkConfig(args, {
      ...env,
      SLUICE_SERVICE_HOST: "10.0.0.1",
      SLUICE_SERVICE_PORT: "50051",
      SLUICE_SERVICE_PORT_GRPC: "50051",
      SLUICE_PORT: "tcp://10.0.0.1:50051",
      SLUICE_PORT_50051_TCP_ADDR: "10.0.0.1",
    });
    expect(serviceLinks.code, serviceLinks.stderr).toBe(0);
    expect((await checkConfig(args, { ...env, SLUICE_PORTS: "1" })).code).toBe(2);
    expect(config).toMatchObject({
      listen: "0.0.0.0:50051",
      dataDir: "/var/lib/sluice",
      registry: { backend: "redis" },
      online: { backend: "redis" },
      // Printed masked. A ClickHouse server: the pods run the replica image, without chDB.
      offline: { backend: "clickhouse", clickhousePassword: "(set)" },
    });
    expect(container.image).toMatch(/-replica$/);
    expect(container.volumeMounts.map((m: Doc) => m.mountPath)).toContain(config.dataDir);
    // Every replica mounts the one ReadWriteMany claim where model files live.
    const models = container.volumeMounts.find((m: Doc) => m.mountPath === config.serving.modelDir);
    const claim = pod.volumes.find((v: Doc) => v.name === models?.name)?.persistentVolumeClaim?.claimName;
    expect(byKind("PersistentVolumeClaim").find((c: Doc) => c.metadata.name === claim)?.spec.accessModes).toEqual(["ReadWriteMany"]);
    // Metrics are served on the port the pod names and its scrape annotation gives.
    const metricsPort = container.ports.find((p: Doc) => p.name === "metrics").containerPort;
    expect(config.metrics.listen).toBe(`0.0.0.0:${metricsPort}`);
    expect(deployment.spec.template.metadata.annotations["prometheus.io/port"]).toBe(String(metricsPort));
    // The pod is killed only after the preStop pause and the server's drain.
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.grpc.shutdownGraceMs + 5000);
  });

  it("probes gRPC health on the port the server listens on, runs as the image's user, and has resources", () => {
    const port = container.ports.find((p: Doc) => p.name === "grpc").containerPort;
    expect(port).toBe(50051);
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) expect(container[probe].grpc, probe).toEqual({ port });
    const uid = /^(\d+):(\d+)$/.exec(effective("replica", "USER"));
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: Number(uid?.[1]),
      runAsGroup: Number(uid?.[2]),
      fsGroup: Number(uid?.[2]),
    });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toBeDefined();
  });

  it("selects the Deployment's pods from both Services and the PodDisruptionBudget", () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    const services = byKind("Service");
    expect(services.map((s: Doc) => s.metadata.name).sort()).toEqual(["sluice", "sluice-headless"]);
    for (const service of services) {
      expect(service.spec.selector).toEqual(labels);
      expect(service.spec.ports).toEqual([{ name: "grpc", port: 50051, targetPort: "grpc", appProtocol: "grpc" }]);
    }
    const budget = byKind("PodDisruptionBudget")[0];
    expect(budget.spec.selector.matchLabels).toEqual(labels);
    expect(budget.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
  });
});

describe("deploy/Dockerfile", () => {
  const runs = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args));
  const copied = stages
    .flatMap((s) => s.instructions)
    .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  const ci = read(".ci/run");
  const pkg = JSON.parse(read("package.json"));
  const lock = JSON.parse(read("package-lock.json"));
  const targets = ["full", "replica"];

  it("has two targets: full (the default, last stage) and replica", () => {
    expect(stages.at(-1)?.name).toBe("full");
    for (const target of targets) expect(chain(target)[0]?.base).toMatch(/^node:20-bookworm-slim$/);
    // The same image apart from node_modules.
    for (const keyword of ["ENV", "USER", "WORKDIR", "VOLUME", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD"])
      expect(instructions("replica", keyword), keyword).toEqual(instructions("full", keyword));
  });

  it("has RUN commands that sh parses (the image's /bin/sh is dash)", () => {
    for (const run of runs) execFileSync("sh", ["-n", "-c", run]);
  });

  it("builds with the commands CI runs", () => {
    const npmCi = /^npm ci[^\n]*$/m.exec(ci)?.[0];
    expect(npmCi).toBe("npm ci --no-audit --no-fund");
    expect(runs).toContain(npmCi);
    // `npm test` (CI's test command) builds with `npm run build`; the image builds with the same script.
    expect(pkg.scripts.test).toContain("npm run build");
    expect(runs).toContain("npm run build && npm prune --omit=dev");
    // lmdb's (and others') platform binaries are optional dependencies: --omit=optional would drop them.
    expect(Object.keys(lock.packages["node_modules/lmdb"].optionalDependencies)).toContain("@lmdb/lmdb-linux-x64");
    expect(runs.join("\n")).not.toContain("--omit=optional");
  });

  it("copies every input of the build, and runs the command the package's bin names", () => {
    const build = JSON.parse(read("tsconfig.build.json"));
    for (const included of build.include as string[]) {
      expect(
        copied.some((c) => included === c || included.startsWith(`${c}/`)),
        included,
      ).toBe(true);
    }
    for (const file of ["package.json", "package-lock.json", ".npmrc", "tsconfig.json", "tsconfig.build.json"])
      expect(copied).toContain(file);
    // The build script copies the descriptor set that reflection serves.
    expect(pkg.scripts.build).toContain("src/gen/descriptors.binpb");
    const bin = pkg.bin.sluice as string;
    for (const target of targets) {
      // node itself is PID 1 and its arguments include `serve`: healthcheck.mjs reads them there.
      expect(execForm("ENTRYPOINT", effective(target, "ENTRYPOINT"))).toEqual(["node", bin, "serve"]);
      expect(effective(target, "HEALTHCHECK")).toMatch(/ CMD \["node", "healthcheck\.mjs"\]$/);
      expect(effective(target, "WORKDIR")).toBe("/app");
      expect(instructions(target, "COPY")).toContain("deploy/healthcheck.mjs ./");
      expect(execForm("VOLUME", effective(target, "VOLUME"))).toEqual(["/var/lib/sluice"]);
      expect(effective(target, "EXPOSE")).toBe(`50051 ${imageEnv(target).SLUICE_METRICS_LISTEN?.split(":")[1]}`);
      expect(execForm("CMD", effective(target, "CMD"))).toEqual(["--listen", "0.0.0.0:50051", "--data-dir", "/var/lib/sluice"]);
      // node runs the bin's file, not its shebang: the image gives Node the shebang's flags itself.
      expect(binNodeFlags()).toContain("--max-semi-space-size=64");
      expect(instructions(target, "ENV")).toContain(`NODE_OPTIONS="${binNodeFlags().join(" ")}"`);
    }
  });

  it("keeps the build context to what the build copies", () => {
    const ignored = read("deploy/Dockerfile.dockerignore")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", ".git"]));
    for (const path of copied)
      expect(
        ignored.some((i) => path === i || path.startsWith(`${i}/`)),
        path,
      ).toBe(false);
  });

  it("leaves chDB, and only chDB, out of the replica target", () => {
    const full = modulesFrom("full");
    const replica = modulesFrom("replica");
    expect(full).toBe("build");
    // The same install, and then one more step: chdb and its platform packages removed.
    expect(chain(replica).slice(0, chain(full).length)).toEqual(chain(full));
    const extra = chain(replica)
      .slice(chain(full).length)
      .flatMap((s) => s.instructions);
    expect(extra).toEqual([{ keyword: "RUN", args: "rm -r node_modules/chdb node_modules/@chdb" }]);
    // Those are all of chDB's packages in the lockfile, and no other package needs them.
    const chdb = (path: string) => /^node_modules\/(chdb|@chdb\/[^/]+)(\/|$)/.test(path);
    const packages = Object.entries(lock.packages as Record<string, Doc>);
    expect(packages.filter(([path]) => /(^|\/)(chdb|@chdb\/[^/]+)$/.test(path)).every(([path]) => chdb(path))).toBe(true);
    for (const [path, entry] of packages.filter(([path]) => path && !chdb(path) && !lock.packages[path].dev)) {
      const needs = Object.keys({ ...entry.dependencies, ...entry.optionalDependencies });
      expect(
        needs.filter((name) => name === "chdb" || name.startsWith("@chdb/")),
        path,
      ).toEqual([]);
    }
  });

  it("leaves out onnxruntime-node's binaries for other platforms, keeping linux/x64 and linux/arm64", () => {
    const prune = runs.find((r) => r.includes("onnxruntime-node/bin")) as string;
    expect(prune).toMatch(/^rm -r /);
    // The installed package is the one the image installs (same lockfile).
    const installed = JSON.parse(read("node_modules/onnxruntime-node/package.json")).version;
    expect(installed).toBe(lock.packages["node_modules/onnxruntime-node"].version);
    // It loads bin/napi-v<N>/<platform>/<arch>/ and nothing else.
    expect(read("node_modules/onnxruntime-node/dist/binding.js")).toMatch(
      /\/bin\/napi-v\d+\/\$\{process\.platform\}\/\$\{process\.arch\}\//,
    );
    // The globs as the build's shell expands them: `ls` fails on one that matches nothing, as rm would.
    const removed = execFileSync("sh", ["-c", `ls -d ${prune.slice("rm -r ".length)}`], { cwd: root, encoding: "utf8" })
      .trim()
      .split("\n");
    const bin = join(root, "node_modules/onnxruntime-node/bin");
    const kept = readdirSync(bin).flatMap((napi) =>
      readdirSync(join(bin, napi))
        .filter((platform) => !removed.includes(`node_modules/onnxruntime-node/bin/${napi}/${platform}`))
        .flatMap((platform) => readdirSync(join(bin, napi, platform)).map((arch) => `${platform}/${arch}`)),
    );
    expect(kept.sort()).toEqual(["linux/arm64", "linux/x64"]);
  });

  it("serves from a ClickHouse server without chDB, as the replica image runs", async () => {
    // A resolve hook makes chdb and @chdb/* missing, as in the replica image.
    const hooks = mkdtempSync(join(tmpdir(), "sluice-no-chdb-"));
    writeFileSync(
      join(hooks, "hook.mjs"),
      `export async function resolve(specifier, context, next) {
  if (/^(chdb|@chdb\\/[^/]+)(\\/|$)/.test(specifier))
    throw Object.assign(new Error(\`Cannot find package '\${specifier}' (not in the replica image)\`), { code: "ERR_MODULE_NOT_FOUND" });
  return next(specifier, context);
}
`,
    );
    writeFileSync(join(hooks, "register.mjs"), `import { register } from "node:module";\nregister("./hook.mjs", import.meta.url);\n`);
    const node = ["--import", pathToFileURL(join(hooks, "register.mjs")).href];
    const dataDir = mkdtempSync(join(tmpdir(), "sluice-no-chdb-data-"));
    const closed = `127.0.0.1:${await freePort()}`;
    const serve = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir];
    const env = { SLUICE_METRICS_LISTEN: "127.0.0.1:0" };
    const server = { ...env, SLUICE_OFFLINE_BACKEND: "clickhouse", SLUICE_OFFLINE_CLICKHOUSE_URL: `http://${closed}` };
    // The health check's two commands.
    const check = await sluice([...serve, "--check-config"], server, node);
    expect(check.stderr).not.toMatch(/chdb/i);
    expect(check.code).toBe(0);
    const health = await sluice(["health", "--address", closed], {}, node);
    expect(health.stderr).not.toMatch(/chdb/i);
    expect(health.code).toBe(1);
    // The server gets as far as connecting to ClickHouse (none runs there).
    const started = await sluice(serve, server, node);
    expect(started.stderr).not.toMatch(/chdb/i);
    expect(started.stderr).toContain(`ClickHouse at http://${closed} is unavailable`);
    // The embedded backend does need chDB, and the error says so.
    const embedded = await sluice(serve, env, node);
    expect(embedded.code).not.toBe(0);
    expect(embedded.stderr).toMatch(/chdb/i);
  }, 60_000);
});

describe("deploy/healthcheck.mjs (the image's HEALTHCHECK)", () => {
  /** `sluice serve` from `cwd`, once it logs that it serves. */
  async function serve(cwd: string, args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; address: string }> {
    const child = spawn(process.execPath, ["--import", tsx, join(root, "src/cli/main.ts"), "serve", ...args], {
      cwd,
      // Listening on 0.0.0.0 without authentication must be asked for.
      env: { ...cleanEnv(), SLUICE_METRICS_LISTEN: "127.0.0.1:0", SLUICE_AUTH_ALLOW_UNAUTHENTICATED_REMOTE: "true", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    const address = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === "sluice is serving" && entry.address) resolve(entry.address);
      });
      child.on("exit", (code) => reject(new Error(`server exited with ${code} before serving: ${stderr}`)));
    });
    return { child, address };
  }

  const healthcheck = (pid: number | undefined) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(deploy, "healthcheck.mjs"), String(pid)], (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
      );
    });

  it("checks the address the server was configured with, from whichever layer set it", async () => {
    const [fromFile, fromEnv, overridden, fromFlag] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    // A config file by a path relative to the server's directory, overridden by SLUICE_LISTEN (a wildcard host).
    const dir = mkdtempSync(join(tmpdir(), "sluice-healthcheck-"));
    writeFileSync(join(dir, "sluice.yaml"), `listen: "127.0.0.1:${fromFile}"\ndataDir: data\n`);
    // A flag, as `docker run sluice --listen ...` gives it, over SLUICE_LISTEN.
    const a = await serve(dir, ["--config", "sluice.yaml"], { SLUICE_LISTEN: `0.0.0.0:${fromEnv}` });
    const b = await serve(root, ["--listen", `127.0.0.1:${fromFlag}`, "--data-dir", join(dir, "b")], {
      SLUICE_LISTEN: `127.0.0.1:${overridden}`,
    });
    try {
      expect([a.address, b.address]).toEqual([`0.0.0.0:${fromEnv}`, `127.0.0.1:${fromFlag}`]);
      const [checkA, checkB, notServe] = await Promise.all([healthcheck(a.child.pid), healthcheck(b.child.pid), healthcheck(process.pid)]);
      expect(checkA).toMatchObject({ code: 0, stdout: `127.0.0.1:${fromEnv}: SERVING\n` });
      expect(checkB).toMatchObject({ code: 0, stdout: `127.0.0.1:${fromFlag}: SERVING\n` });
      expect(notServe.code).toBe(1);
      expect(notServe.stderr).toMatch(/is not `sluice serve`/);
      // A server that does not answer (stopped) is unhealthy.
      b.child.kill("SIGSTOP");
      const stopped = await healthcheck(b.child.pid);
      b.child.kill("SIGCONT");
      expect(stopped.code).toBe(1);
      expect(stopped.stdout).toBe(`127.0.0.1:${fromFlag}: no answer\n`);
    } finally {
      for (const { child } of [a, b]) child.kill("SIGKILL");
    }
  }, 90_000);
});
