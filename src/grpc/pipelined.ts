/**
 * Processes the requests of a stream several at a time while delivering results strictly in
 * request order, each as soon as it and every earlier one are done. A failed request stops the
 * stream at once (without waiting for the client's next message) and rethrows; later requests
 * still in flight are left to settle before this returns.
 */
export async function processPipelined<Req, Res>(
  requests: AsyncIterable<Req>,
  depth: number,
  process: (request: Req) => Promise<Res>,
  deliver: (result: Res) => Promise<void>,
): Promise<void> {
  const iterator = requests[Symbol.asyncIterator]();
  const inFlight = new Set<Promise<Res>>();
  let failure: { error: unknown } | undefined;
  // Rejects the wait for the next request when a delivery fails.
  let interrupt: ((error: unknown) => void) | undefined;
  // Settles once every result so far is delivered; rejects with the first failure.
  let delivered: Promise<void> = Promise.resolve();
  const window: Array<Promise<void>> = [];
  try {
    for (;;) {
      // A fresh promise per wait: racing every wait against one long-pending promise would leave a
      // reaction on it per request, each holding that request, for the whole stream.
      const next = await new Promise<IteratorResult<Req>>((resolve, reject) => {
        if (failure) return reject(failure.error);
        interrupt = reject;
        iterator.next().then(resolve, reject);
      });
      interrupt = undefined;
      if (next.done) break;
      const result = process(next.value);
      inFlight.add(result);
      result.then(
        () => inFlight.delete(result),
        () => inFlight.delete(result),
      );
      delivered = delivered.then(async () => deliver(await result));
      delivered.catch((error: unknown) => {
        failure ??= { error };
        interrupt?.(error);
      });
      window.push(delivered);
      if (window.length >= depth) await window.shift();
    }
    await delivered;
  } finally {
    await Promise.allSettled([...inFlight]);
  }
}
