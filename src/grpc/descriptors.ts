import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { PackageDefinition } from "@grpc/proto-loader";

/** Field number of `repeated FileDescriptorProto file` in google.protobuf.FileDescriptorSet. */
const FILE_FIELD = 1;

/**
 * The served protos for server reflection, from the FileDescriptorSet (with imports) that
 * `npm run generate` writes beside the generated code, so grpcurl and buf curl need no proto files.
 *
 * Each file is handed over byte for byte. proto-loader's own loader is not used on purpose: it
 * merges all files of a package into one synthetic file, which strict reflection clients
 * (buf curl, grpcurl) then refuse to link ("failed to find service ... in schema").
 */
export function loadServedDescriptors(): PackageDefinition {
  const path = fileURLToPath(new URL("../gen/descriptors.binpb", import.meta.url));
  const reader = new BinaryReader(readFileSync(path));
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === FILE_FIELD && wireType === WireType.LengthDelimited) files.push(Buffer.from(reader.bytes()));
    else reader.skip(wireType);
  }
  // @grpc/reflection reads only `fileDescriptorProtos` from the definitions it is given, so one
  // entry carrying every file is a complete package definition for it.
  const definition = { format: "Protocol Buffer 3 DescriptorProto", type: {}, fileDescriptorProtos: files };
  return { "sluice.served_files": definition } as unknown as PackageDefinition;
}
