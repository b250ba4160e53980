import { describe, expect, it } from "vitest";
import { compactRowsText, jsonMicrosColumn } from "./clickhouse-sql.js";

describe("compactRowsText", () => {
  it("writes one JSON array per row, cells in column order", async () => {
    const names = ["a", 'b"'];
    const text = await compactRowsText(2, [jsonMicrosColumn([10, 20]), (row) => JSON.stringify(names[row])]);
    expect(text).toBe('[10,"a"]\n[20,"b\\""]\n');
    expect(
      text
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual([
      [10, "a"],
      [20, 'b"'],
    ]);
  });

  it("yields to the event loop while it formats a large batch, and still writes every row in order", async () => {
    let ranBetween = false;
    setImmediate(() => {
      ranBetween = true;
    });
    const rows = 1000;
    const text = compactRowsText(rows, [(row) => String(row)]);
    expect(ranBetween).toBe(false);
    const lines = (await text).trimEnd().split("\n");
    expect(ranBetween).toBe(true);
    expect(lines).toEqual(Array.from({ length: rows }, (_, row) => `[${row}]`));
  });
});
