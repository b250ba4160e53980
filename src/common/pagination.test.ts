import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.js";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, readPageRequest, toPage } from "./pagination.js";

describe("pagination", () => {
  it("defaults and caps the page size", () => {
    expect(readPageRequest("s", 0, "", "name").limit).toBe(DEFAULT_PAGE_SIZE);
    expect(readPageRequest("s", 5000, "", "name").limit).toBe(MAX_PAGE_SIZE);
  });

  it("rejects a negative page size", () => {
    expect(() => readPageRequest("s", -1, "", "name")).toThrow(ValidationError);
  });

  it("round-trips a token within its listing and refuses it elsewhere", () => {
    const page = toPage("listing-a", ["a", "b", "c"], 2, (x) => x);
    expect(page.items).toEqual(["a", "b"]);
    expect(readPageRequest("listing-a", 2, page.nextPageToken, "name").after).toBe("b");
    expect(() => readPageRequest("listing-b", 2, page.nextPageToken, "name")).toThrow(ValidationError);
    expect(() => readPageRequest("listing-a", 2, "garbage!", "name")).toThrow(ValidationError);
  });

  it.each([
    ["a name where a version belongs", "versions", { s: "versions", a: "x" }],
    ["a fractional version", "versions", { s: "versions", a: 1.5 }],
    ["a negative version", "versions", { s: "versions", a: -3 }],
    ["a version where a name belongs", "names", { s: "names", a: 7 }],
  ])("refuses a forged token with %s", (_label, scope, payload) => {
    const token = Buffer.from(JSON.stringify(payload)).toString("base64url");
    expect(() => readPageRequest(scope, 1, token, scope === "versions" ? "version" : "name")).toThrow(ValidationError);
  });

  it("gives no token on the last page", () => {
    expect(toPage("s", ["a", "b"], 2, (x) => x).nextPageToken).toBe("");
  });
});
