/**
 * Reads up to `depth` items of an async iterable ahead of its consumer, so a producer that waits
 * to be asked (a query engine's result stream) keeps working while the consumer handles an item
 * (sends it over the network). Items come out in order; memory is bounded by `depth` items.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const pending: Array<Promise<IteratorResult<T>>> = [];
  let finished = false;
  const fill = () => {
    while (!finished && pending.length < depth) {
      const next = iterator.next();
      pending.push(next);
      // A finished (or failed) source is not asked again; the failure surfaces in order below.
      next.then(
        (result) => {
          if (result.done) finished = true;
        },
        () => {
          finished = true;
        },
      );
    }
  };
  try {
    fill();
    for (;;) {
      const next = pending.shift();
      if (!next) return;
      const result = await next;
      if (result.done) return;
      fill();
      yield result.value;
    }
  } finally {
    // Stops the source when the consumer leaves early; items already read are dropped.
    if (!finished) await iterator.return?.();
  }
}
