/**
 * deploy/ cannot be run here (no container engine), so this checks what can be checked without one:
 * every YAML parses; the configuration each file gives Sluice passes `sluice serve --check-config`
 * with the intended backends; the Dockerfile builds with the commands CI runs; and the files agree
 * with each other (ports, user, probes, labels, names).
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { nginxMissing, skipWithoutToolchain } from "../support/client-toolchains.js";

const root = join(import.meta.dirname, "../..");
const deploy = join(root, "deploy");
const read = (path: string) => readFileSync(join(root, path), "utf8");

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

/** The merged config `sluice serve --check-config` prints for these arguments and environment. */
function checkConfig(args: string[], env: Record<string, string>): Promise<{ code: number; config?: Doc; stderr: string }> {
  // Only SLUICE_* variables from the file under test: none inherited from the test's own environment.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("SLUICE_")));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(root, "src/cli/main.ts"), "serve", ...args, "--check-config"],
      { cwd: root, env: { ...clean, ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        const json = stdout.slice(0, stdout.lastIndexOf("}") + 1);
        resolve({ code, config: code === 0 ? JSON.parse(json) : undefined, stderr });
      },
    );
  });
}

/** The exec-form arguments of a Dockerfile instruction (`CMD ["a", "b"]`). */
function dockerfileArgs(dockerfile: string, instruction: string): string[] {
  const line = dockerfile.split("\n").find((l) => l.startsWith(`${instruction} [`));
  return JSON.parse((line as string).slice(instruction.length + 1));
}

const dockerfile = read("deploy/Dockerfile");
/** The SLUICE_* variables the image sets (`ENV KEY=value`), under every environment below. */
const imageEnv = Object.fromEntries([...dockerfile.matchAll(/^ENV (SLUICE_\w+)=(\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]));
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
  const replicas = Object.entries(compose.services as Record<string, Doc>).filter(([, s]) => s.image === "sluice:local");

  it("runs two Sluice replicas on Redis and ClickHouse, whose environment passes --check-config", async () => {
    expect(replicas.map(([name]) => name)).toEqual(["sluice-a", "sluice-b"]);
    for (const [name, service] of replicas) {
      expect(service.build).toEqual({ context: "..", dockerfile: "deploy/Dockerfile" });
      // ${CLICKHOUSE_PASSWORD:-sluice} as Compose interpolates it when the variable is unset.
      const env = Object.fromEntries(
        Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, String(v).replace(/\$\{\w+:-([^}]*)\}/g, "$1")]),
      );
      const { code, config, stderr } = await checkConfig(dockerfileArgs(dockerfile, "CMD"), { ...imageEnv, ...env });
      expect(code, `${name}: ${stderr}`).toBe(0);
      expect(config).toMatchObject({
        listen: "0.0.0.0:50051",
        dataDir: "/var/lib/sluice",
        registry: { backend: "redis", redisUrl: "redis://redis:6379" },
        online: { backend: "redis", redisUrl: "redis://redis:6379" },
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

  it("puts one nginx gRPC address in front of exactly those replicas", () => {
    const nginx = read("deploy/nginx.conf");
    const upstreams = [...nginx.matchAll(/^\s*server ([\w-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    expect(upstreams).toEqual(replicas.map(([name]) => `${name}:50051`));
    expect(nginx).toMatch(/listen 50051 http2;/);
    expect(nginx).toMatch(/grpc_pass grpc:\/\/sluice;/);
    expect(compose.services["grpc-lb"].ports).toEqual(["127.0.0.1:50051:50051"]);
    expect(Object.keys(compose.services["grpc-lb"].depends_on).sort()).toEqual(replicas.map(([name]) => name));
  });

  it.skipIf(skipWithoutToolchain("nginx -t of deploy/nginx.conf", nginxMissing()))(
    "has an nginx.conf that nginx accepts (replica names pointed at loopback)",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "sluice-nginx-"));
      const conf = read("deploy/nginx.conf").replace(/server sluice-[ab]:50051/g, "server 127.0.0.1:50051");
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
    },
  );
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
    // The Secret's value stands in for every secretKeyRef.
    const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value ?? "from-the-secret"]));
    const { code, config, stderr } = await checkConfig(args, { ...imageEnv, ...env });
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
      // Printed masked.
      offline: { backend: "clickhouse", clickhousePassword: "(set)" },
    });
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
    const uid = /^USER (\d+):(\d+)$/m.exec(dockerfile);
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
  const runs = dockerfile.split("\n").filter((l) => l.startsWith("RUN "));
  const ci = read(".ci/run");
  const pkg = JSON.parse(read("package.json"));

  it("builds with the commands CI runs", () => {
    const npmCi = /^npm ci[^\n]*$/m.exec(ci)?.[0];
    expect(npmCi).toBe("npm ci --no-audit --no-fund");
    expect(runs).toContain(`RUN ${npmCi}`);
    // `npm test` (CI's test command) builds with `npm run build`; the image builds with the same script.
    expect(pkg.scripts.test).toContain("npm run build");
    expect(runs).toContain("RUN npm run build && npm prune --omit=dev");
  });

  it("copies every input of the build, and runs the command the package's bin names", () => {
    const copied = dockerfile
      .split("\n")
      .filter((l) => l.startsWith("COPY ") && !l.includes("--from"))
      .flatMap((l) => l.slice(5).split(/\s+/).slice(0, -1));
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
    expect(dockerfileArgs(dockerfile, "ENTRYPOINT")).toEqual(["node", bin, "serve"]);
    expect(/HEALTHCHECK[\s\S]*?CMD (\[.*\])/.exec(dockerfile)?.[1]).toBe(
      JSON.stringify(["node", bin, "health", "--address", "127.0.0.1:50051"]).replaceAll(",", ", "),
    );
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/lib\/sluice"\]$/m);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE 50051 ${imageEnv.SLUICE_METRICS_LISTEN?.split(":")[1]}$`, "m"));
    expect(dockerfileArgs(dockerfile, "CMD")).toEqual(["--listen", "0.0.0.0:50051", "--data-dir", "/var/lib/sluice"]);
  });

  it("keeps the build context to what the build copies", () => {
    const ignored = read("deploy/Dockerfile.dockerignore")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", ".git"]));
    const copied = dockerfile
      .split("\n")
      .filter((l) => l.startsWith("COPY ") && !l.includes("--from"))
      .flatMap((l) => l.slice(5).split(/\s+/).slice(0, -1));
    for (const path of copied)
      expect(
        ignored.some((i) => path === i || path.startsWith(`${i}/`)),
        path,
      ).toBe(false);
  });
});
