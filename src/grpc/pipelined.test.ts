import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { processPipelined } from "./pipelined.js";

/** A request stream the test feeds one message at a time. */
function feed<T>() {
  const queue: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const iterable: AsyncIterable<T> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length > 0) yield queue.shift() as T;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
  return {
    iterable,
    push: (item: T) => {
      queue.push(item);
      wake?.();
    },
    end: () => {
      ended = true;
      wake?.();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("processPipelined", () => {
  it("delivers in request order although later requests finish first", async () => {
    const requests = feed<number>();
    const delivered: number[] = [];
    const done = processPipelined(
      requests.iterable,
      4,
      async (ms) => {
        await sleep(ms);
        return ms;
      },
      async (ms) => void delivered.push(ms),
    );
    for (const ms of [30, 1, 20, 2]) requests.push(ms);
    requests.end();
    await done;
    expect(delivered).toEqual([30, 1, 20, 2]);
  });

  it("delivers each result before the next request arrives (a client may wait for its ack)", async () => {
    const requests = feed<number>();
    const delivered: number[] = [];
    const done = processPipelined(
      requests.iterable,
      4,
      async (n) => n,
      async (n) => void delivered.push(n),
    );
    requests.push(1);
    await sleep(5);
    expect(delivered).toEqual([1]);
    requests.end();
    await done;
  });

  it("keeps at most `depth` requests in flight", async () => {
    const requests = feed<number>();
    let running = 0;
    let most = 0;
    const done = processPipelined(
      requests.iterable,
      2,
      async (n) => {
        most = Math.max(most, ++running);
        await sleep(5);
        running--;
        return n;
      },
      async () => undefined,
    );
    for (let i = 0; i < 10; i++) requests.push(i);
    requests.end();
    await done;
    expect(most).toBe(2);
  });

  it("stops at the first failure without waiting for another request, after delivering what came before", async () => {
    const requests = feed<number>();
    const delivered: number[] = [];
    const done = processPipelined(
      requests.iterable,
      4,
      async (n) => {
        if (n === 2) throw new Error("bad batch");
        return n;
      },
      async (n) => void delivered.push(n),
    );
    requests.push(1);
    requests.push(2);
    await expect(done).rejects.toThrow("bad batch");
    expect(delivered).toEqual([1]);
  });

  it("lets requests still in flight settle before a failure returns", async () => {
    const requests = feed<number>();
    let settled = false;
    const done = processPipelined(
      requests.iterable,
      4,
      async (n) => {
        if (n === 1) throw new Error("bad batch");
        await sleep(20);
        settled = true;
        return n;
      },
      async () => undefined,
    );
    requests.push(2);
    requests.push(1);
    await expect(done).rejects.toThrow("bad batch");
    expect(settled).toBe(true);
  });

  it("holds no request after it is delivered, however long the stream", async () => {
    // In a child process with the GC exposed: 300 requests of 1 MB each, then a full GC.
    const script = `
      const { processPipelined } = await import(${JSON.stringify(new URL("./pipelined.ts", import.meta.url).href)});
      async function* requests() { for (let i = 0; i < 300; i++) yield Buffer.alloc(1 << 20, i); }
      await processPipelined(requests(), 4, async (request) => request.length, async () => undefined);
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
      globalThis.gc();
      console.log(process.memoryUsage().arrayBuffers);
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script]);
    // Held requests would be 300 MB; what is left is the few in flight at the end, not yet collected.
    expect(Number(stdout) / 2 ** 20).toBeLessThan(64);
  });
});
