package sluice

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// FieldViolation is one problem with one request field, e.g. `rows[2].features["spend_30d"]`.
type FieldViolation struct {
	Field       string
	Description string
}

// ErrorDetails is a failed call as Sluice describes it: the code and message, the ErrorInfo
// (Reason for programs to match on, Metadata such as resource_name) and, for INVALID_ARGUMENT,
// the BadRequest field violations.
type ErrorDetails struct {
	Code            codes.Code
	Message         string
	Reason          string
	Domain          string
	Metadata        map[string]string
	FieldViolations []FieldViolation
}

// Details decodes the google.rpc.Status a Sluice server sends in grpc-status-details-bin. It
// returns nil when err is not a gRPC status error.
func Details(err error) *ErrorDetails {
	var withStatus interface{ GRPCStatus() *status.Status }
	if err == nil || !errors.As(err, &withStatus) {
		return nil
	}
	st := withStatus.GRPCStatus()
	out := &ErrorDetails{Code: st.Code(), Message: st.Message(), Metadata: map[string]string{}}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			out.Reason, out.Domain = d.GetReason(), d.GetDomain()
			for k, v := range d.GetMetadata() {
				out.Metadata[k] = v
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				out.FieldViolations = append(out.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return out
}

// RequestID returns the x-request-id the server answered with; pass grpc.Trailer(&md) to the call
// (from google.golang.org/grpc) to collect its trailers. The server's log lines about the call carry the same id.
func RequestID(trailer metadata.MD) string {
	if ids := trailer.Get("x-request-id"); len(ids) > 0 {
		return ids[0]
	}
	return ""
}
