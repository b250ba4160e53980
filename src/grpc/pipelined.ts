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
  const never = new Promise<never>(() => undefined);
  const inFlight = new Set<Promise<Res>>();
  // Settles once every result so far is delivered; rejects with the first failure.
  let delivered: Promise<void> = Promise.resolve();
  const window: Array<Promise<void>> = [];
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), delivered.then(() => never)]);
      if (next.done) break;
      const result = process(next.value);
      inFlight.add(result);
      result.then(
        () => inFlight.delete(result),
        () => inFlight.delete(result),
      );
      delivered = delivered.then(async () => deliver(await result));
      window.push(delivered);
      if (window.length >= depth) await window.shift();
    }
    await delivered;
  } finally {
    await Promise.allSettled([...inFlight]);
  }
}
