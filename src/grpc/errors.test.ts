import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { SluiceError, ValidationError } from "../common/errors.js";
import { BadRequest } from "../gen/google/rpc/error_details.pb.js";
import { Status } from "../gen/google/rpc/status.pb.js";
import { MAX_STATUS_TRAILER_BYTES, toServiceError } from "./errors.js";

const logger = pino({ level: "silent" });

/** What a status costs in trailers: grpc-message (percent-encoded at worst) and base64 details. */
function trailerBytes(error: unknown) {
  const status = toServiceError(error, logger);
  const details = status.metadata?.get("grpc-status-details-bin")[0] as Buffer;
  const message = status.details ?? "";
  return { status, details, bytes: Buffer.byteLength(encodeURIComponent(message)) + Math.ceil((details.length * 4) / 3) };
}

describe("toServiceError bounds what goes into trailers", () => {
  it("keeps 600 long violations under the header limit, with a final count of those left out", () => {
    const violations = Array.from({ length: 600 }, (_, i) => ({
      field: `feature_view.features[${i}].name`,
      description: `duplicate feature name "${"é".repeat(100)}${i}"`,
    }));
    const { status, details, bytes } = trailerBytes(new ValidationError("INVALID_FEATURE_VIEW", violations));
    expect(bytes).toBeLessThanOrEqual(MAX_STATUS_TRAILER_BYTES);
    const decoded = Status.decode(details);
    expect(decoded.message).toBe(status.details);
    const badRequest = BadRequest.decode(decoded.details.find((d) => d.typeUrl.endsWith("BadRequest"))?.value ?? new Uint8Array());
    expect(badRequest.fieldViolations.length).toBeGreaterThan(5);
    expect(badRequest.fieldViolations.at(-1)?.description).toMatch(/^… and \d+ more violations$/);
    const listed = badRequest.fieldViolations.length - 1;
    expect(badRequest.fieldViolations.at(-1)?.description).toBe(`… and ${600 - listed} more violations`);
  });

  it("clips a huge message and metadata, and leaves small errors as they are", () => {
    const huge = new SluiceError("not_found", "X_NOT_FOUND", `x ${"y".repeat(1_000_000)} not found`, {
      resource_name: "z".repeat(100_000),
    });
    expect(trailerBytes(huge).bytes).toBeLessThanOrEqual(MAX_STATUS_TRAILER_BYTES);
    const small = trailerBytes(new ValidationError("BAD", [{ field: "a", description: "is wrong" }]));
    expect(small.status.details).toBe("invalid request: a: is wrong");
    const badRequest = BadRequest.decode(Status.decode(small.details).details[1]?.value ?? new Uint8Array());
    expect(badRequest.fieldViolations.map((v) => [v.field, v.description])).toEqual([["a", "is wrong"]]);
  });
});
