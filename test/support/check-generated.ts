/**
 * Fails when generated code is out of date with proto/: regenerates into a temporary directory with
 * the same commands as `npm run generate` and compares every file byte for byte. Checks src/gen
 * (ts-proto and the descriptor set), the Go stubs of clients/go and the Python stubs of
 * clients/python. Run by `npm test` and CI. A client whose toolchain is missing here is skipped
 * with one line, unless REQUIRE_CLIENT_TESTS=1 (set by .ci/run) makes that a failure.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { goMissing, python, pythonGeneratorMissing, repositoryRoot as root, skipWithoutToolchain } from "./client-toolchains.js";

interface GeneratedTree {
  name: string;
  /** Directories (relative to the repository) that hold only generated files. */
  dirs: string[];
  /** Why its generator cannot run here, or undefined. */
  missing?: () => string | undefined;
  /** Writes the tree under `scratch` as it would be written under the repository root. */
  generate: (scratch: string) => void;
}

const buf = join(root, "node_modules/.bin/buf");
const run = (command: string, args: string[]) => execFileSync(command, args, { cwd: root, stdio: "inherit" });

const trees: GeneratedTree[] = [
  {
    name: "TypeScript",
    dirs: ["src/gen"],
    generate: (scratch) => {
      run(buf, ["generate", "--output", scratch]);
      run(buf, ["build", "-o", join(scratch, "src/gen/descriptors.binpb")]);
    },
  },
  {
    name: "Go client stubs",
    dirs: ["clients/go/sluice/v1", "clients/go/inference"],
    missing: goMissing,
    generate: (scratch) => run("sh", [join(root, "clients/go/generate.sh"), scratch]),
  },
  {
    name: "Python client stubs",
    dirs: ["clients/python/src/sluice/v1", "clients/python/src/sluice/kserve"],
    missing: pythonGeneratorMissing,
    generate: (scratch) => run(python, [join(root, "clients/python/generate.py"), scratch]),
  },
];

/** Files under dir, relative to it; bytecode caches that running Python leaves behind do not count. */
function list(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.parentPath.split(/[\\/]/).includes("__pycache__"))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Every difference between the committed tree and a fresh one. */
function differences(tree: GeneratedTree, scratch: string): string[] {
  const problems: string[] = [];
  for (const dir of tree.dirs) {
    const fresh = join(scratch, dir);
    const committed = join(root, dir);
    const expected = list(fresh);
    const actual = list(committed);
    problems.push(
      ...expected.filter((f) => !actual.includes(f)).map((f) => `missing: ${dir}/${f}`),
      ...actual.filter((f) => !expected.includes(f)).map((f) => `not generated from proto/: ${dir}/${f}`),
      ...expected
        .filter((f) => actual.includes(f) && !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))))
        .map((f) => `out of date: ${dir}/${f}`),
    );
  }
  return problems;
}

const scratch = mkdtempSync(join(tmpdir(), "sluice-gen-"));
try {
  const stale: string[] = [];
  for (const tree of trees) {
    if (skipWithoutToolchain(`generate:check of the ${tree.name}`, tree.missing?.())) continue;
    tree.generate(scratch);
    const problems = differences(tree, scratch);
    stale.push(...problems);
    if (problems.length === 0) {
      const count = tree.dirs.reduce((n, dir) => n + list(join(scratch, dir)).length, 0);
      process.stdout.write(`${tree.dirs.join(", ")}: up to date with proto/ (${count} files)\n`);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(
      `generated code does not match proto/ — run \`npm run generate\` and commit the result:\n  ${stale.join("\n  ")}\n`,
    );
    process.exitCode = 1;
  }
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
