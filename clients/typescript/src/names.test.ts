import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { SluiceClientError } from "./errors.js";
import { fullName, projectId, versionedName } from "./names.js";

const at = { method: "getFeatureView", field: "name" };
const inDefault = { project: "default", projectGiven: false };
const inOther = { project: "other", projectGiven: true };

/** The error a call throws, checked to be the SDK's own INVALID_ARGUMENT. */
function refusal(call: () => unknown): SluiceClientError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceClientError);
    const e = error as SluiceClientError;
    expect([e.code, e.codeName, e.requestId]).toEqual([status.INVALID_ARGUMENT, "INVALID_ARGUMENT", undefined]);
    return e;
  }
  return expect.unreachable("the call should have been refused");
}

describe("projects", () => {
  it("takes an id or projects/{id}", () => {
    expect(projectId("ml", at)).toBe("ml");
    expect(projectId("projects/ml", at)).toBe("ml");
  });

  it("refuses anything else, showing both forms", () => {
    for (const bad of ["", "ML", "projects/", "projects/ml/entities/x", "my-project"]) {
      const error = refusal(() => projectId(bad, { method: "createProject", field: "name" }));
      expect(error.reason).toBe("INVALID_RESOURCE_NAME");
      expect(error.fieldViolations).toEqual([{ field: "name", description: expect.stringContaining('or "projects/{project}"') }]);
      expect(error.message).toMatch(/^createProject: name /);
    }
  });
});

describe("resource names", () => {
  it("places an id in the call's project", () => {
    expect(fullName("featureViews", "customer_stats", inDefault, at)).toBe("projects/default/featureViews/customer_stats");
    expect(fullName("endpoints", "churn", inOther, at)).toBe("projects/other/endpoints/churn");
    expect(fullName("featureViews", "customer_stats", { ...inDefault, version: 3 }, at)).toBe(
      "projects/default/featureViews/customer_stats/versions/3",
    );
  });

  it("uses a full name unchanged, in any project unless the call names one", () => {
    for (const name of ["projects/p/featureViews/v", "projects/p/featureViews/v/versions/2"]) {
      expect(fullName("featureViews", name, { ...inDefault, allowVersion: true }, at)).toBe(name);
    }
    expect(fullName("endpoints", "projects/other/endpoints/churn", inOther, at)).toBe("projects/other/endpoints/churn");
    const elsewhere = refusal(() => fullName("endpoints", "projects/p/endpoints/churn", inOther, at));
    expect(elsewhere.fieldViolations[0]?.description).toContain('a name in project "other"');
  });

  it("appends an asked version to a full name and refuses one that disagrees", () => {
    expect(fullName("featureViews", "projects/p/featureViews/v", { ...inDefault, version: 2 }, at)).toBe(
      "projects/p/featureViews/v/versions/2",
    );
    expect(fullName("featureViews", "projects/p/featureViews/v/versions/2", { ...inDefault, version: 2 }, at)).toBe(
      "projects/p/featureViews/v/versions/2",
    );
    const error = refusal(() => fullName("featureViews", "projects/p/featureViews/v/versions/2", { ...inDefault, version: 3 }, at));
    expect(error.message).toContain("names version 2, but version 3 was asked for");
  });

  it("refuses malformed names with the expected form", () => {
    const cases = [
      "",
      "Customer-Stats",
      "customer_stats@3",
      "featureViews/customer_stats",
      "projects/p/entities/customer",
      "projects/p/featureViews/v/versions/0",
      "projects/p/featureViews/v/history/1",
      "projects/P/featureViews/v",
    ];
    for (const bad of cases) {
      const given = bad === "" ? "is empty" : `"${bad}" is not valid`;
      const error = refusal(() => fullName("featureViews", bad, { ...inDefault, allowVersion: true }, at));
      expect(error.reason).toBe("INVALID_RESOURCE_NAME");
      expect(error.fieldViolations).toEqual([
        {
          field: "name",
          description: `${given}; expected a feature view id such as "customer_stats", or "projects/{project}/featureViews/{id}[/versions/{version}]"`,
        },
      ]);
    }
  });

  it("refuses a version where the method takes none", () => {
    const error = refusal(() => fullName("featureViews", "projects/p/featureViews/v/versions/2", inDefault, at));
    expect(error.fieldViolations[0]?.description).toContain('or "projects/{project}/featureViews/{id}"');
  });

  it("leaves a short id's characters to the server for applies, but not its shape", () => {
    expect(fullName("entities", "Bad Name", { ...inDefault, lenient: true }, at)).toBe("projects/default/entities/Bad Name");
    for (const bad of ["", "a/b", "view@2", "view:f"]) refusal(() => fullName("entities", bad, { ...inDefault, lenient: true }, at));
  });
});

describe("versioned refs", () => {
  const model = { method: "applyDeployment", field: "stable" };

  it("takes model@n or a full version name", () => {
    expect(versionedName("models", "churn@3", { ...inDefault, needVersion: true }, model)).toEqual({
      base: "projects/default/models/churn",
      version: 3,
    });
    expect(versionedName("models", "projects/p/models/churn/versions/3", { ...inDefault, needVersion: true }, model)).toEqual({
      base: "projects/p/models/churn",
      version: 3,
    });
  });

  it("takes the latest when a version is optional", () => {
    expect(versionedName("trainingDatasets", "sets", { ...inOther, needVersion: false }, model)).toEqual({
      base: "projects/other/trainingDatasets/sets",
      version: undefined,
    });
  });

  it("refuses a missing or malformed version, showing model@version", () => {
    for (const bad of ["churn", "churn@", "churn@0", "churn@x", "projects/p/models/churn", "projects/p/endpoints/churn/versions/1"]) {
      const error = refusal(() => versionedName("models", bad, { ...inDefault, needVersion: true }, model));
      expect(error.fieldViolations[0]?.description).toMatch(
        /expected a model version such as "churn@3", or "projects\/\{project\}\/models\/\{id\}\/versions\/\{version\}"$/,
      );
    }
  });
});
