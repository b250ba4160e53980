import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { methodRules, projectOf, ROLE_PERMISSIONS } from "./permissions.js";
import { can, type Principal } from "./principal.js";

/** Every method of every service in the served descriptors (what reflection shows and the server answers). */
function servedMethods(): string[] {
  const bytes = readFileSync(fileURLToPath(new URL("../gen/descriptors.binpb", import.meta.url)));
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  const paths: string[] = [];
  for (const file of registry.files)
    for (const service of file.services) for (const method of service.methods) paths.push(`/${service.typeName}/${method.name}`);
  return paths;
}

describe("the permission table", () => {
  const rules = methodRules(async () => [""]);

  it("has a rule for every method the server answers (a new RPC without one fails here)", () => {
    const missing = servedMethods().filter((path) => !rules.has(path));
    expect(missing).toEqual([]);
  });

  it("names no method the server does not answer", () => {
    const served = new Set([
      ...servedMethods(),
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]);
    expect([...rules.keys()].filter((path) => !served.has(path))).toEqual([]);
  });

  it("is written down: docs/security.md names every method of the table", () => {
    const docs = readFileSync(fileURLToPath(new URL("../../docs/security.md", import.meta.url)), "utf8");
    const undocumented = [...rules.keys()]
      .map((path) => path.slice(path.lastIndexOf("/") + 1))
      .filter((method) => !docs.includes(`\`${method}\``));
    expect(undocumented).toEqual([]);
  });

  it("audits every method that changes state", () => {
    const mutatingByName = [...rules].filter(([path]) =>
      /\/(Create|Apply|Delete|Write|Import|Materialize|Upload|Promote|Rollback|Approve|Reject|Revoke|Grant)\w*$/.test(path),
    );
    expect(mutatingByName.filter(([, rule]) => !rule.mutating).map(([path]) => path)).toEqual([]);
  });

  it("gives every project-scoped permission a way to find the project", () => {
    const scoped = [...rules].filter(([, rule]) => !["public", "reflection", "authenticated"].includes(rule.access));
    expect(scoped.filter(([, rule]) => !rule.projects).map(([path]) => path)).toEqual([]);
  });
});

describe("roles", () => {
  const holder = (project: string, role: keyof typeof ROLE_PERMISSIONS): Principal => ({
    name: "p",
    authentication: "api_key",
    grants: [{ project, role }],
  });

  it("nest: each role holds what a viewer holds, admin holds every project permission", () => {
    for (const role of Object.keys(ROLE_PERMISSIONS) as Array<keyof typeof ROLE_PERMISSIONS>) {
      for (const permission of ROLE_PERMISSIONS.viewer) expect(ROLE_PERMISSIONS[role].has(permission)).toBe(true);
      for (const permission of ROLE_PERMISSIONS[role]) expect(ROLE_PERMISSIONS.admin.has(permission)).toBe(true);
    }
  });

  it("apply to their own project only; a server-wide check needs *:admin", () => {
    expect(can(holder("alpha", "writer"), "ingest.write", "alpha")).toBe(true);
    expect(can(holder("alpha", "writer"), "ingest.write", "beta")).toBe(false);
    expect(can(holder("alpha", "viewer"), "ingest.write", "alpha")).toBe(false);
    expect(can(holder("alpha", "admin"), "registry.write", "")).toBe(false);
    expect(can(holder("*", "admin"), "registry.write", "")).toBe(true);
    expect(can(holder("*", "viewer"), "registry.read", "alpha")).toBe(false);
  });
});

describe("projectOf", () => {
  it("reads the project of names and project fields the way the handlers do", () => {
    expect(projectOf("")).toBe("default");
    expect(projectOf("projects/alpha")).toBe("alpha");
    expect(projectOf("projects/alpha/featureViews/v/versions/2")).toBe("alpha");
    expect(projectOf("fraud_model")).toBe("default");
    expect(projectOf("projects/")).toBe("");
    expect(projectOf("projects/Bad")).toBe("");
    expect(projectOf("a/b")).toBe("");
    expect(projectOf(undefined)).toBe("default");
  });
});
