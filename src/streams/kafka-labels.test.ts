import { describe, expect, it } from "vitest";
import { labelFromMessage } from "./kafka-labels.js";

describe("labelFromMessage", () => {
  it("reads outcome labels and entity labels as a gRPC client would send them", () => {
    expect(labelFromMessage({ request_id: "r1", label: 1 }, "milliseconds")).toEqual({
      requestId: "r1",
      row: 0,
      label: { kind: "int64", value: 1n },
      requestFeatures: {},
    });
    expect(
      labelFromMessage(
        { entity: { user_id: 42 }, event_time: "2026-11-27T10:00:00Z", label: true, request_features: { hour: 9.5, ad: "shoes" } },
        "milliseconds",
      ),
    ).toEqual({
      row: 0,
      label: { kind: "bool", value: true },
      requestFeatures: { hour: { kind: "double", value: 9.5 }, ad: { kind: "string", value: "shoes" } },
      entity: { joinKeys: { user_id: { kind: "int64", value: 42n } }, eventTime: Date.parse("2026-11-27T10:00:00Z") * 1000 },
    });
    expect(labelFromMessage({ entity: { user_id: 1 }, event_time: 1700000000, label: 0 }, "seconds")).toMatchObject({
      entity: { eventTime: 1700000000 * 1e6 },
    });
  });

  it("says what is wrong with a message that is not a label", () => {
    expect(labelFromMessage({ label: 1 }, "milliseconds")).toBe("give request_id or entity, one of them");
    expect(labelFromMessage({ request_id: "r", entity: {}, label: 1 }, "milliseconds")).toBe("give request_id or entity, one of them");
    expect(labelFromMessage({ request_id: "r", label: [1] }, "milliseconds")).toMatch(/^label: expected a number/);
    expect(labelFromMessage({ entity: { u: 1 }, label: 1 }, "milliseconds")).toBe("event_time is required with entity");
    expect(labelFromMessage({ entity: { u: 1 }, event_time: "yesterday", label: 1 }, "milliseconds")).toMatch(/^event_time: /);
    expect(labelFromMessage({ request_id: "r", label: 1, colour: "red" }, "milliseconds")).toMatch(/^unknown field colour/);
    expect(labelFromMessage({ request_id: "r", label: 2 ** 60 }, "milliseconds")).toMatch(/beyond ±2\^53/);
  });
});
