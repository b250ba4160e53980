package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// eventIngestion acknowledges each WriteEvents batch with its write id and event count. A batch for
// the stream "missing" fails the call with NOT_FOUND; after `stopAfter` batches (when set) it ends
// the call without acknowledging the rest.
type eventIngestion struct {
	sluicev1.UnimplementedIngestionServiceServer
	stopAfter int
}

func (s *eventIngestion) WriteEvents(stream grpc.BidiStreamingServer[sluicev1.WriteEventsRequest, sluicev1.WriteEventsResponse]) error {
	for n := 0; ; n++ {
		request, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if s.stopAfter > 0 && n == s.stopAfter {
			return nil
		}
		if request.GetEventStream() == "missing" {
			st, _ := status.New(codes.NotFound, "event stream projects/default/eventStreams/missing not found").
				WithDetails(&errdetails.ErrorInfo{Reason: "EVENT_STREAM_NOT_FOUND"})
			return st.Err()
		}
		ack := &sluicev1.WriteEventsResponse{WriteId: request.GetWriteId(), AcceptedCount: int32(len(request.GetEvents())), EventStreamVersion: 1}
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
}

// startIngestion serves service on 127.0.0.1:0 and returns a client of it; both stop when the test ends.
func startIngestion(t *testing.T, service sluicev1.IngestionServiceServer) *Client {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	sluicev1.RegisterIngestionServiceServer(server, service)
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	client, err := Dial(listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// eventBatch is a batch of `size` events for stream, each with a card id and an amount.
func eventBatch(stream, writeID string, size int) *sluicev1.WriteEventsRequest {
	batch := &sluicev1.WriteEventsRequest{Project: "projects/default", EventStream: stream, WriteId: writeID}
	for i := range size {
		batch.Events = append(batch.Events, &sluicev1.EventRow{
			EntityKey: map[string]*sluicev1.Value{"card_id": Int64(int64(i))},
			EventTime: timestamppb.New(time.Date(2026, 1, 2, 3, 4, i%60, 0, time.UTC)),
			Fields:    map[string]*sluicev1.Value{"amount": Double(float64(i)), "merchant": String(strings.Repeat("m", 100))},
		})
	}
	return batch
}

func TestWriteEventsAcknowledgesEachBatchInOrder(t *testing.T) {
	client := startIngestion(t, &eventIngestion{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var batches []*sluicev1.WriteEventsRequest
	for i := range 50 {
		batches = append(batches, eventBatch("transactions", fmt.Sprintf("w%d", i), 100+i))
	}
	acks, err := client.WriteEvents(ctx, batches...)
	if err != nil {
		t.Fatal(err)
	}
	if len(acks) != len(batches) {
		t.Fatalf("%d acknowledgements for %d batches", len(acks), len(batches))
	}
	for i, ack := range acks {
		if ack.GetWriteId() != batches[i].GetWriteId() || int(ack.GetAcceptedCount()) != len(batches[i].GetEvents()) {
			t.Fatalf("ack %d is %v, for batch %q of %d events", i, ack, batches[i].GetWriteId(), len(batches[i].GetEvents()))
		}
	}
	if none, err := client.WriteEvents(ctx); err != nil || len(none) != 0 {
		t.Fatalf("no batches: got %v, %v", none, err)
	}
}

func TestWriteEventsReturnsTheCallsErrorWithTheAcknowledgementsBeforeIt(t *testing.T) {
	client := startIngestion(t, &eventIngestion{})
	acks, err := client.WriteEvents(context.Background(), eventBatch("transactions", "a", 2), eventBatch("missing", "b", 1), eventBatch("transactions", "c", 1))
	if len(acks) != 1 || acks[0].GetWriteId() != "a" {
		t.Errorf("acks before the error: %v", acks)
	}
	if d := Details(err); d == nil || d.Code != codes.NotFound || d.Reason != "EVENT_STREAM_NOT_FOUND" {
		t.Errorf("error %v decodes as %+v", err, d)
	}
}

func TestWriteEventsReportsAStreamThatEndsEarly(t *testing.T) {
	client := startIngestion(t, &eventIngestion{stopAfter: 1})
	acks, err := client.WriteEvents(context.Background(), eventBatch("transactions", "a", 1), eventBatch("transactions", "b", 1))
	if len(acks) != 1 || err == nil || !strings.Contains(err.Error(), "ended after 1 acknowledgements for 2 batches") {
		t.Errorf("got %v, %v", acks, err)
	}
}
