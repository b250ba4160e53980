import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { ClientGoneError, MAX_QUEUED_BYTES, StreamIdleError, writeWithBackpressure } from "./stream-outcome.js";

/** A server stream call as grpc-js's behaves: room for 16 messages, each written callback held until `flush`. */
class FakeCall<Res> extends EventEmitter {
  cancelled = false;
  readonly written: Res[] = [];
  private readonly callbacks: Array<() => void> = [];

  write(message: Res, written?: () => void): boolean {
    this.written.push(message);
    this.callbacks.push(written ?? (() => undefined));
    return this.callbacks.length < 16;
  }

  /** Hands the oldest `count` queued messages to HTTP/2. */
  flush(count: number): void {
    for (const written of this.callbacks.splice(0, count)) written();
    if (this.callbacks.length < 16) this.emit("drain");
  }
}

/** Whether `promise` has settled by the next turn. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe("writeWithBackpressure", () => {
  const part = (megabytes: number) => Buffer.alloc(megabytes << 20);

  it("waits while more than MAX_QUEUED_BYTES of pre-encoded parts are queued, and goes on once they are written", async () => {
    expect(MAX_QUEUED_BYTES).toBe(16 << 20);
    const call = new FakeCall<Buffer>();
    await writeWithBackpressure(call, part(10));
    const second = writeWithBackpressure(call, part(10));
    expect(await settled(second)).toBe(false);
    call.flush(1);
    await second;
    // 10 MB queued: the next part of 6 MB fits exactly, the one after does not.
    await writeWithBackpressure(call, part(6));
    const fourth = writeWithBackpressure(call, part(1));
    expect(await settled(fourth)).toBe(false);
    call.flush(1);
    await fourth;
    expect(call.written).toHaveLength(4);
  });

  it("counts messages only for messages that are not encoded yet, waiting for drain at 16", async () => {
    const call = new FakeCall<{ n: number }>();
    for (let n = 0; n < 15; n++) await writeWithBackpressure(call, { n });
    const sixteenth = writeWithBackpressure(call, { n: 15 });
    expect(await settled(sixteenth)).toBe(false);
    call.flush(4);
    await sixteenth;
  });

  it("stops waiting with ClientGoneError when the client cancels, and refuses to write after", async () => {
    const call = new FakeCall<Buffer>();
    await writeWithBackpressure(call, part(12));
    const waiting = writeWithBackpressure(call, part(12));
    call.cancelled = true;
    call.emit("cancelled");
    await expect(waiting).rejects.toBeInstanceOf(ClientGoneError);
    await expect(writeWithBackpressure(call, part(1))).rejects.toBeInstanceOf(ClientGoneError);
    expect(call.written).toHaveLength(2);
  });

  it("ends with StreamIdleError when nothing queued is written for the stall time", async () => {
    const call = new FakeCall<Buffer>();
    await writeWithBackpressure(call, part(12), 20);
    await expect(writeWithBackpressure(call, part(12), 20)).rejects.toBeInstanceOf(StreamIdleError);
    // The wait left nothing behind: written parts later do not wake anything.
    call.flush(2);
    expect(call.listenerCount("close") + call.listenerCount("cancelled") + call.listenerCount("drain")).toBe(0);
  });
});
