/**
 * Fails when src/gen is out of date with proto/: regenerates into a temporary directory with the
 * same buf templates and compares every file byte for byte. Run by `npm test` and CI.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const committed = join(root, "src/gen");
const scratch = mkdtempSync(join(tmpdir(), "sluice-gen-"));
const buf = join(root, "node_modules/.bin/buf");

try {
  execFileSync(buf, ["generate", "--output", scratch], { cwd: root, stdio: "inherit" });
  execFileSync(buf, ["build", "-o", join(scratch, "src/gen/descriptors.binpb")], { cwd: root, stdio: "inherit" });
  const fresh = join(scratch, "src/gen");
  const list = (dir: string) =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .sort();
  const expected = list(fresh);
  const actual = list(committed);
  const stale = [
    ...expected.filter((f) => !actual.includes(f)).map((f) => `missing: src/gen/${f}`),
    ...actual.filter((f) => !expected.includes(f)).map((f) => `not generated from proto/: src/gen/${f}`),
    ...expected
      .filter((f) => actual.includes(f) && !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))))
      .map((f) => `out of date: src/gen/${f}`),
  ];
  if (stale.length > 0) {
    process.stderr.write(`src/gen does not match proto/ — run \`npm run generate\` and commit the result:\n  ${stale.join("\n  ")}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`src/gen is up to date with proto/ (${expected.length} files)\n`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
