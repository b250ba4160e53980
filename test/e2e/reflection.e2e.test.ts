/** The grpcurl-style path: `buf curl` with no proto files, through server reflection only. */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/test-server.js";

const run = promisify(execFile);
const buf = join(import.meta.dirname, "../../node_modules/.bin/buf");
let t: TestServer | undefined;

/** Runs `buf curl` from an empty directory, so it cannot see the repository's protos. */
async function bufCurl(...args: string[]): Promise<string> {
  const { stdout } = await run(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], {
    cwd: mkdtempSync(join(tmpdir(), "sluice-bufcurl-")),
  });
  return stdout;
}

afterEach(async () => {
  await t?.stop();
  t = undefined;
});

describe("server reflection", () => {
  it("lets buf curl list every service and call GetFeatureView with JSON", async () => {
    t = await startTestServer();
    const url = `http://${t.server.address}`;
    const methods = (await bufCurl("--list-methods", url)).split("\n");
    for (const method of [
      "sluice.v1.RegistryService/ApplyFeatureView",
      "sluice.v1.IngestionService/WriteFeatures",
      "sluice.v1.OnlineService/GetOnlineFeatures",
      "sluice.v1.TrainingService/GetHistoricalFeatures",
      "sluice.v1.ModelService/UploadModel",
      "sluice.v1.InferenceService/Predict",
      "sluice.v1.MonitoringService/GetDriftReport",
      "inference.GRPCInferenceService/ModelInfer",
      "grpc.health.v1.Health/Check",
    ]) {
      expect(methods).toContain(method);
    }

    await bufCurl(
      "-d",
      JSON.stringify({
        entity: { name: "projects/default/entities/driver", joinKeys: [{ name: "driver_id", type: "VALUE_TYPE_STRING" }] },
      }),
      `${url}/sluice.v1.RegistryService/ApplyEntity`,
    );
    const applied = JSON.parse(
      await bufCurl(
        "-d",
        JSON.stringify({
          featureView: {
            name: "projects/default/featureViews/driver_hourly",
            entity: "driver",
            ttl: "3600s",
            features: [{ name: "trips", type: "VALUE_TYPE_INT64" }],
          },
        }),
        `${url}/sluice.v1.RegistryService/ApplyFeatureView`,
      ),
    );
    expect(applied.outcome).toBe("APPLY_OUTCOME_CREATED");

    const fetched = JSON.parse(
      await bufCurl(
        "-d",
        JSON.stringify({ name: "projects/default/featureViews/driver_hourly" }),
        `${url}/sluice.v1.RegistryService/GetFeatureView`,
      ),
    );
    expect(fetched.featureView).toMatchObject({
      name: "projects/default/featureViews/driver_hourly",
      version: 1,
      entity: "driver",
      ttl: "3600s",
      features: [{ name: "trips", type: "VALUE_TYPE_INT64" }],
      state: "FEATURE_VIEW_STATE_ACTIVE",
    });
  });

  it("can be turned off by config", async () => {
    t = await startTestServer({ reflection: false });
    await expect(bufCurl("--list-methods", `http://${t.server.address}`)).rejects.toThrow();
  });
});
