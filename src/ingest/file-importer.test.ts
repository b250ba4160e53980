import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PreconditionError, ValidationError } from "../common/errors.js";
import type { Registry } from "../registry/registry.js";
import type { EventWriter } from "./event-writer.js";
import type { FeatureWriter } from "./feature-writer.js";
import { FileImporter } from "./file-importer.js";

/** An importer whose writers are never reached: only its path confinement is tested here. */
function importer(allowedDirs: string[]): FileImporter {
  return new FileImporter({} as Registry, {} as FeatureWriter, {} as EventWriter, 10, allowedDirs);
}

async function reason(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => expect.unreachable("the path should have been refused"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(error instanceof PreconditionError ? PreconditionError : ValidationError);
  return (error as ValidationError).reason;
}

describe("FileImporter.confinedPath", () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "sluice-confine-")));
  const allowed = join(root, "allowed");
  const outside = join(root, "outside");
  mkdirSync(allowed);
  mkdirSync(outside);
  mkdirSync(join(allowed, "sub"));
  writeFileSync(join(allowed, "sub", "ok.csv"), "a\n1\n");
  writeFileSync(join(outside, "secret.csv"), "SECRET-LINE\n");
  symlinkSync(join(outside, "secret.csv"), join(allowed, "link.csv"));
  symlinkSync(outside, join(allowed, "dirlink"));
  symlinkSync(join(allowed, "sub", "ok.csv"), join(allowed, "inner-link.csv"));

  it("allows files under an allowed directory, through links that stay inside", async () => {
    const files = importer([allowed]);
    expect(await files.confinedPath(join(allowed, "sub", "ok.csv"))).toBe(join(allowed, "sub", "ok.csv"));
    expect(await files.confinedPath(join(allowed, "sub", "..", "sub", "ok.csv"))).toBe(join(allowed, "sub", "ok.csv"));
    expect(await files.confinedPath(join(allowed, "inner-link.csv"))).toBe(join(allowed, "sub", "ok.csv"));
  });

  it("refuses paths outside, '..' escapes, symlink escapes and relative paths", async () => {
    const files = importer([allowed]);
    expect(await reason(files.confinedPath(join(outside, "secret.csv")))).toBe("SOURCE_PATH_NOT_ALLOWED");
    expect(await reason(files.confinedPath(join(allowed, "..", "outside", "secret.csv")))).toBe("SOURCE_PATH_NOT_ALLOWED");
    expect(await reason(files.confinedPath(join(allowed, "link.csv")))).toBe("SOURCE_PATH_NOT_ALLOWED");
    expect(await reason(files.confinedPath(join(allowed, "dirlink", "secret.csv")))).toBe("SOURCE_PATH_NOT_ALLOWED");
    expect(await reason(files.confinedPath("allowed/sub/ok.csv"))).toBe("SOURCE_PATH_NOT_ALLOWED");
    // A sibling whose name starts like the allowed directory is not inside it.
    expect(await reason(importer([join(root, "allow")]).confinedPath(join(allowed, "sub", "ok.csv")))).toBe("SOURCE_PATH_NOT_ALLOWED");
    // Outside: refused before the file system says whether the file exists.
    expect(await reason(files.confinedPath(join(outside, "missing.csv")))).toBe("SOURCE_PATH_NOT_ALLOWED");
    expect(await reason(files.confinedPath(join(allowed, "missing.csv")))).toBe("UNREADABLE_SOURCE");
  });

  it("refuses every server-side path when no directory is allowed", async () => {
    expect(await reason(importer([]).confinedPath(join(allowed, "sub", "ok.csv")))).toBe("SERVER_IMPORTS_DISABLED");
  });
});
