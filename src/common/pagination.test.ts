import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.js";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, readPageRequest, toPage } from "./pagination.js";

describe("pagination", () => {
  it("defaults and caps the page size", () => {
    expect(readPageRequest("s", 0, "").limit).toBe(DEFAULT_PAGE_SIZE);
    expect(readPageRequest("s", 5000, "").limit).toBe(MAX_PAGE_SIZE);
  });

  it("rejects a negative page size", () => {
    expect(() => readPageRequest("s", -1, "")).toThrow(ValidationError);
  });

  it("round-trips a token within its listing and refuses it elsewhere", () => {
    const page = toPage("listing-a", ["a", "b", "c"], 2, (x) => x);
    expect(page.items).toEqual(["a", "b"]);
    expect(readPageRequest("listing-a", 2, page.nextPageToken).after).toBe("b");
    expect(() => readPageRequest("listing-b", 2, page.nextPageToken)).toThrow(ValidationError);
    expect(() => readPageRequest("listing-a", 2, "garbage!")).toThrow(ValidationError);
  });

  it("gives no token on the last page", () => {
    expect(toPage("s", ["a", "b"], 2, (x) => x).nextPageToken).toBe("");
  });
});
