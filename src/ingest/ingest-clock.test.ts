import { describe, expect, it } from "vitest";
import { IngestClock } from "./ingest-clock.js";

describe("IngestClock", () => {
  it("never repeats or goes back, even when the wall clock stalls or steps back", () => {
    let now = 1000;
    const clock = new IngestClock(() => now);
    const first = clock.next(3); // reserves 1_000_000 .. 1_000_002
    const second = clock.next();
    now = 900;
    const third = clock.next(2);
    expect([first, second, third]).toEqual([1_000_000, 1_000_003, 1_000_004]);
    now = 2000;
    expect(clock.next()).toBe(2_000_000);
  });
});
