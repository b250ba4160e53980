import { expect } from "vitest";
import { SluiceClientError } from "../../clients/typescript/src/index.js";

/** Awaits a call that must fail and returns its decoded error. */
export async function failure(promise: Promise<unknown>): Promise<SluiceClientError> {
  const error = await promise.then(
    () => expect.unreachable("the call should have failed"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceClientError);
  return error as SluiceClientError;
}
