package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"

	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// WriteEvents streams batches of raw events over one WriteEvents call and returns the server's
// acknowledgements, one per batch and in order: each comes once the batch's events are durable in
// the offline history and applied to the online tiles of every aggregation view over the stream
// (TooLateCount counts the accepted events older than the stream's watermark, which are stored but
// not applied online). Batches are sent while acknowledgements are read, so any number can be
// streamed; they are not modified. A batch retried with the same WriteId is applied once. Errors are
// the call's (decode them with Details); the acknowledgements received before one are returned with it.
//
// For one batch, the unary client.Ingestion.WriteEventBatch does the same.
func (c *Client) WriteEvents(ctx context.Context, batches ...*sluicev1.WriteEventsRequest) ([]*sluicev1.WriteEventsResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the sender if the call ends early on an error
	stream, err := c.Ingestion.WriteEvents(ctx)
	if err != nil {
		return nil, err
	}
	sent := make(chan error, 1)
	go func() { sent <- sendEvents(stream, batches) }()
	acks := make([]*sluicev1.WriteEventsResponse, 0, len(batches))
	for {
		ack, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return acks, err
		}
		acks = append(acks, ack)
	}
	if err := <-sent; err != nil {
		return acks, err
	}
	if len(acks) != len(batches) {
		return acks, fmt.Errorf("sluice: the WriteEvents stream ended after %d acknowledgements for %d batches", len(acks), len(batches))
	}
	return acks, nil
}

// sendEvents writes the batches, then closes the client's side. A send that fails because the
// server ended the call returns io.EOF; the call's status then comes from Recv, so it is not
// reported here.
func sendEvents(stream sluicev1.IngestionService_WriteEventsClient, batches []*sluicev1.WriteEventsRequest) error {
	for _, batch := range batches {
		if err := stream.Send(batch); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	return stream.CloseSend()
}
