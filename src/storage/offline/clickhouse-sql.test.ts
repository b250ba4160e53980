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

  it("writes every row of a batch formatted over several slices, in order", async () => {
    const rows = 2000;
    const lines = (await compactRowsText(rows, [(row) => String(row), (row) => JSON.stringify(`row ${row}`)])).trimEnd().split("\n");
    expect(lines).toEqual(Array.from({ length: rows }, (_, row) => `[${row},"row ${row}"]`));
  });
});
