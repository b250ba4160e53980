/**
 * Model artifacts, addressed by the SHA-256 of their bytes: `{dir}/{sha[0..2]}/{sha}.onnx`. The
 * same bytes are stored once, however many versions use them, and a path never changes meaning,
 * so replicas that share the directory (a volume) can load any version at any time.
 */
import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ResourceNotFoundError, ValidationError } from "../common/errors.js";

/** A file received and hashed, not yet stored under its address. */
export interface StagedArtifact {
  path: string;
  sha256: string;
  sizeBytes: number;
}

/** Content-addressed model files in a directory. */
export class ArtifactStore {
  constructor(private readonly directory: string) {}

  /**
   * Writes chunks to a staging file while hashing them; INVALID_ARGUMENT (MODEL_TOO_LARGE) past
   * `maxBytes`, and for an empty file. The caller stores it with {@link keep} or drops it with {@link discard}.
   */
  async stage(chunks: AsyncIterable<Uint8Array>, maxBytes: number): Promise<StagedArtifact> {
    const path = join(this.directory, "staging", `${randomUUID()}.onnx`);
    await mkdir(dirname(path), { recursive: true });
    const file = createWriteStream(path);
    const hash = createHash("sha256");
    let sizeBytes = 0;
    try {
      for await (const chunk of chunks) {
        sizeBytes += chunk.byteLength;
        if (sizeBytes > maxBytes) {
          throw new ValidationError("MODEL_TOO_LARGE", [
            { field: "chunk", description: `the model exceeds limits.maxModelBytes (${maxBytes} bytes)` },
          ]);
        }
        hash.update(chunk);
        if (!file.write(chunk)) await once(file, "drain");
      }
      if (sizeBytes === 0)
        throw new ValidationError("EMPTY_MODEL", [{ field: "chunk", description: "no model bytes were sent after the header" }]);
    } catch (error) {
      file.destroy();
      await rm(path, { force: true });
      throw error;
    }
    await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
    return { path, sha256: hash.digest("hex"), sizeBytes };
  }

  /** Moves a staged file to its address (a no-op when the same bytes are stored already). */
  async keep(staged: StagedArtifact): Promise<void> {
    const target = this.pathOf(staged.sha256);
    await mkdir(dirname(target), { recursive: true });
    // rename is atomic: a reader sees the whole file or none.
    await rename(staged.path, target);
  }

  async discard(staged: StagedArtifact): Promise<void> {
    await rm(staged.path, { force: true });
  }

  /** The bytes stored under `sha256`; NOT_FOUND when there are none (a directory replicas do not share). */
  async read(sha256: string): Promise<Uint8Array> {
    try {
      return await readFile(this.pathOf(sha256));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new ResourceNotFoundError("model artifact", sha256, `no file ${this.pathOf(sha256)}; replicas must share serving.modelDir`);
      }
      throw error;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(
      () => true,
      () => false,
    );
  }

  private pathOf(sha256: string): string {
    return join(this.directory, sha256.slice(0, 2), `${sha256}.onnx`);
  }
}
