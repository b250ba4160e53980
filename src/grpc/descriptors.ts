import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadFileDescriptorSetFromBuffer, type PackageDefinition } from "@grpc/proto-loader";

/**
 * The FileDescriptorSet of every served proto (with imports), written by `npm run generate`
 * beside the generated code. Reflection serves it, so grpcurl and buf curl need no proto files.
 */
export function loadServedDescriptors(): PackageDefinition {
  const path = fileURLToPath(new URL("../gen/descriptors.binpb", import.meta.url));
  return loadFileDescriptorSetFromBuffer(readFileSync(path));
}
