// Package sluice is a thin layer over the generated Sluice stubs (package sluicev1): one
// connection with a client of every service, the server's error details decoded from
// grpc-status-details-bin, helpers for Value messages and resource names, and the streaming calls
// GetHistoricalFeatures, UploadModel and WriteEvents as plain function calls.
package sluice

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-ml/sluice/clients/go/inference"
	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// retryPolicy retries idempotent calls (registry applies and reads, online reads, Predict, health)
// when the server is briefly unreachable, or for Predict when a model's queue is full
// (INFERENCE_OVERLOADED, where backing off helps); writes are retried by the caller with the same
// write id instead. CreateProject is not idempotent (a repeat is ALREADY_EXISTS): its own entry,
// without a retry policy, overrides the service's.
const retryPolicy = `{"methodConfig": [
  {"name": [{"service": "sluice.v1.RegistryService"}, {"service": "sluice.v1.OnlineService"},
            {"service": "sluice.v1.InferenceService"}, {"service": "grpc.health.v1.Health"}],
   "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "2s", "backoffMultiplier": 2,
                   "retryableStatusCodes": ["UNAVAILABLE"]}},
  {"name": [{"service": "sluice.v1.RegistryService", "method": "CreateProject"}]}]}`

// Client holds one connection and a client of every service Sluice serves on it.
type Client struct {
	Conn       *grpc.ClientConn
	Registry   sluicev1.RegistryServiceClient
	Ingestion  sluicev1.IngestionServiceClient
	Online     sluicev1.OnlineServiceClient
	Training   sluicev1.TrainingServiceClient
	Models     sluicev1.ModelServiceClient
	Inference  sluicev1.InferenceServiceClient
	Monitoring sluicev1.MonitoringServiceClient
	// Access is who may call what: WhoAmI, API keys (CreateApiKey, ListApiKeys, RevokeApiKey), role
	// bindings and the audit trail.
	Access sluicev1.AccessServiceClient
	// KServe is the KServe v2 / Open Inference Protocol service (inference.GRPCInferenceService).
	KServe inference.GRPCInferenceServiceClient
	Health healthpb.HealthClient
}

// Dial connects to a server at "host:port". Without options the connection is plaintext and sends
// no credentials. Credentials: WithAPIKey, WithToken or WithTokenSource, sent as
// "authorization: Bearer ..." on every call. Transport: WithTLS (a CA bundle, and a client
// certificate for mutual TLS) or WithTLSConfig; credentials go in plaintext only to a loopback
// address unless WithPlaintext chooses plaintext explicitly. Any other grpc.DialOption is passed on
// (after these, so a grpc.WithTransportCredentials of the caller's wins). Calls are not given a
// deadline here: use a context.
func Dial(address string, options ...grpc.DialOption) (*Client, error) {
	settings, rest, err := splitOptions(options)
	if err != nil {
		return nil, err
	}
	credentials, err := settings.dialOptions(address)
	if err != nil {
		return nil, err
	}
	defaults := append(credentials, grpc.WithDefaultServiceConfig(retryPolicy))
	conn, err := grpc.NewClient(address, append(defaults, rest...)...)
	if err != nil {
		if settings.credential != nil && settings.transport == nil {
			return nil, fmt.Errorf("sluice: connect to %s: %w (credentials go in plaintext only to a loopback address: "+
				"pass sluice.WithTLS, or sluice.WithPlaintext to send them unencrypted on purpose)", address, err)
		}
		return nil, fmt.Errorf("sluice: connect to %s: %w", address, err)
	}
	return &Client{
		Conn:       conn,
		Registry:   sluicev1.NewRegistryServiceClient(conn),
		Ingestion:  sluicev1.NewIngestionServiceClient(conn),
		Online:     sluicev1.NewOnlineServiceClient(conn),
		Training:   sluicev1.NewTrainingServiceClient(conn),
		Models:     sluicev1.NewModelServiceClient(conn),
		Inference:  sluicev1.NewInferenceServiceClient(conn),
		Monitoring: sluicev1.NewMonitoringServiceClient(conn),
		Access:     sluicev1.NewAccessServiceClient(conn),
		KServe:     inference.NewGRPCInferenceServiceClient(conn),
		Health:     healthpb.NewHealthClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

// Null is a null value (no kind set).
func Null() *sluicev1.Value { return &sluicev1.Value{} }

// Int64 is an int64 value.
func Int64(v int64) *sluicev1.Value {
	return &sluicev1.Value{Kind: &sluicev1.Value_Int64Value{Int64Value: v}}
}

// Double is a double value.
func Double(v float64) *sluicev1.Value {
	return &sluicev1.Value{Kind: &sluicev1.Value_DoubleValue{DoubleValue: v}}
}

// String is a string value.
func String(v string) *sluicev1.Value {
	return &sluicev1.Value{Kind: &sluicev1.Value_StringValue{StringValue: v}}
}

// Bool is a bool value.
func Bool(v bool) *sluicev1.Value {
	return &sluicev1.Value{Kind: &sluicev1.Value_BoolValue{BoolValue: v}}
}

// Time is a timestamp value.
func Time(t time.Time) *sluicev1.Value {
	return &sluicev1.Value{Kind: &sluicev1.Value_TimestampValue{TimestampValue: timestamppb.New(t)}}
}

// ValueOf returns the Go value a Value holds: nil for null, int32, int64, float32, float64, bool,
// string, []byte, time.Time (UTC), or a slice for the list kinds.
func ValueOf(v *sluicev1.Value) any {
	switch k := v.GetKind().(type) {
	case *sluicev1.Value_Int32Value:
		return k.Int32Value
	case *sluicev1.Value_Int64Value:
		return k.Int64Value
	case *sluicev1.Value_FloatValue:
		return k.FloatValue
	case *sluicev1.Value_DoubleValue:
		return k.DoubleValue
	case *sluicev1.Value_BoolValue:
		return k.BoolValue
	case *sluicev1.Value_StringValue:
		return k.StringValue
	case *sluicev1.Value_BytesValue:
		return k.BytesValue
	case *sluicev1.Value_TimestampValue:
		return k.TimestampValue.AsTime()
	case *sluicev1.Value_Int64ListValue:
		return k.Int64ListValue.GetValues()
	case *sluicev1.Value_FloatListValue:
		return k.FloatListValue.GetValues()
	case *sluicev1.Value_DoubleListValue:
		return k.DoubleListValue.GetValues()
	case *sluicev1.Value_StringListValue:
		return k.StringListValue.GetValues()
	default:
		return nil
	}
}
