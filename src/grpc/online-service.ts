/** Thin gRPC adapter of sluice.v1.OnlineService over the core {@link OnlineReader}. */
import type { handleUnaryCall, ServiceDefinition } from "@grpc/grpc-js";
import {
  type GetOnlineFeaturesRequest,
  GetOnlineFeaturesResponse,
  OnlineResponseLayout,
  OnlineServiceService,
} from "../gen/sluice/v1/online.pb.js";
import type { FeatureColumn, OnlineReader, ReadSelection } from "../online/online-reader.js";
import { parseProjectName } from "../registry/names.js";
import type { HandlerEnv } from "./call-context.js";
import { encodeFlatResponse, encodeTypedFlatResponse } from "./flat-values.js";
import { resolvedFeatureToWire } from "./mapping/registry.js";
import { FEATURE_STATUS_TO_WIRE, microsToTimestamp, taggedFromWire, valueToWire } from "./mapping/values.js";
import { unaryHandler } from "./unary-handler.js";

/**
 * OnlineService as served: GetOnlineFeatures answers with bytes the handler has encoded itself
 * (see {@link encodeOnlineResponse}), which the generated serializer would encode again.
 */
export const ONLINE_SERVICE_DEFINITION: ServiceDefinition = {
  ...OnlineServiceService,
  getOnlineFeatures: { ...OnlineServiceService.getOnlineFeatures, responseSerialize: (encoded: Buffer) => encoded },
};

/** Builds the OnlineService handlers. */
export function onlineServiceHandlers(
  reader: OnlineReader,
  env: HandlerEnv,
): { getOnlineFeatures: handleUnaryCall<GetOnlineFeaturesRequest, Buffer> } {
  return {
    getOnlineFeatures: unaryHandler(
      "sluice.v1.OnlineService/GetOnlineFeatures",
      env,
      async (request: GetOnlineFeaturesRequest): Promise<Buffer> => {
        const { selection, columns } = await reader.read({
          project: parseProjectName(request.project, "project", true),
          features: request.features,
          featureService: request.featureService,
          entities: Object.fromEntries(Object.entries(request.entities).map(([name, column]) => [name, column.values.map(taggedFromWire)])),
          fullFeatureNames: request.fullFeatureNames,
        });
        return encodeOnlineResponse(selection, columns, request.layout);
      },
    ),
  };
}

/** The encoded fields of a response that depend only on the selection: names and resolved features. */
const encodedSelections = new WeakMap<ReadSelection, { names: Uint8Array; resolved: Uint8Array }>();

/** A response with every field empty, for encoding one field at a time. */
const EMPTY_RESPONSE: GetOnlineFeaturesResponse = GetOnlineFeaturesResponse.fromPartial({});

/**
 * Encodes a GetOnlineFeaturesResponse in the layout asked for (columns unless FLAT or FLAT_TYPED). Only the values
 * are encoded per call: the names (field 1) and resolved features (field 3) are encoded once per
 * selection and the parts concatenated in field order, which protobuf defines to decode as the one
 * whole message.
 */
export function encodeOnlineResponse(
  selection: ReadSelection,
  columns: readonly FeatureColumn[],
  layout: OnlineResponseLayout = OnlineResponseLayout.ONLINE_RESPONSE_LAYOUT_UNSPECIFIED,
): Buffer {
  let parts = encodedSelections.get(selection);
  if (!parts) {
    parts = {
      names: GetOnlineFeaturesResponse.encode({ ...EMPTY_RESPONSE, featureNames: [...selection.names] }).finish(),
      resolved: GetOnlineFeaturesResponse.encode({
        ...EMPTY_RESPONSE,
        resolvedFeatures: selection.features.map(resolvedFeatureToWire),
      }).finish(),
    };
    encodedSelections.set(selection, parts);
  }
  // Field 4 after the names and resolved features.
  if (layout === OnlineResponseLayout.ONLINE_RESPONSE_LAYOUT_FLAT) return encodeFlatResponse([parts.names, parts.resolved], columns);
  if (layout === OnlineResponseLayout.ONLINE_RESPONSE_LAYOUT_FLAT_TYPED)
    return encodeTypedFlatResponse([parts.names, parts.resolved], columns);
  const values = GetOnlineFeaturesResponse.encode({
    ...EMPTY_RESPONSE,
    columns: columns.map((c) => ({
      values: c.values.map((value) => valueToWire(c.feature.type, value)),
      statuses: c.statuses.map((s) => FEATURE_STATUS_TO_WIRE[s]),
      // An unset Timestamp cannot sit in a repeated field; NOT_FOUND cells carry the epoch.
      eventTimes: c.eventTimes.map((t) => microsToTimestamp(t ?? 0)),
    })),
  }).finish();
  return Buffer.concat([parts.names, values, parts.resolved]);
}
