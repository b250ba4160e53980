import { expect } from "vitest";
import { SluiceClientError } from "../../clients/typescript/src/index.js";
import { ValidationError } from "../../src/common/errors.js";

/** Awaits a call that must fail and returns its decoded error. */
export async function failure(promise: Promise<unknown>): Promise<SluiceClientError> {
  const error = await promise.then(
    () => expect.unreachable("the call should have failed"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceClientError);
  return error as SluiceClientError;
}

/** Runs a core call that must refuse its input (throwing or rejecting) and returns its ValidationError. */
export async function validationFailure(run: () => unknown): Promise<ValidationError> {
  const error = await (async () => run())().then(
    () => expect.unreachable("the call should have failed"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}
