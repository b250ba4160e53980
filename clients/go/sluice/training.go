package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// HistoricalRows is a point-in-time training set read in the ROWS format.
type HistoricalRows struct {
	// Schema lists the columns (join keys, event_time, extra columns, then the features, each with
	// the feature view version it was read at) and whether rows come in spine order.
	Schema *sluicev1.HistoricalFeaturesSchema
	// Rows holds one map per row, column name -> the value as ValueOf returns it (nil for null,
	// time.Time in UTC for timestamps).
	Rows []map[string]any
	// RowCount is the row count of the server's summary.
	RowCount int64
}

// GetHistoricalRows runs GetHistoricalFeatures: it sends the query, then the spine batches (the
// query's inline_spine is set when spine batches are given and the query names no other spine),
// closes its side, and collects the schema, the rows and the summary. The query is not modified;
// its format is ROWS whatever it says. Errors are the call's (decode them with Details).
func (c *Client) GetHistoricalRows(ctx context.Context, query *sluicev1.HistoricalFeaturesQuery, spine ...*sluicev1.SpineBatch) (*HistoricalRows, error) {
	query = proto.CloneOf(query)
	query.Format = sluicev1.OutputFormat_OUTPUT_FORMAT_ROWS
	if len(spine) > 0 && query.GetSpine() == nil {
		query.Spine = &sluicev1.HistoricalFeaturesQuery_InlineSpine{InlineSpine: true}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the call if it ends early on an error
	stream, err := c.Training.GetHistoricalFeatures(ctx)
	if err != nil {
		return nil, err
	}
	if err := sendHistorical(stream, query, spine); err != nil {
		return nil, err
	}
	result := &HistoricalRows{}
	var names []string
	summary := false
	for {
		part, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch p := part.GetPart().(type) {
		case *sluicev1.GetHistoricalFeaturesResponse_Schema:
			result.Schema = p.Schema
			names = names[:0]
			for _, column := range p.Schema.GetColumns() {
				names = append(names, column.GetName())
			}
		case *sluicev1.GetHistoricalFeaturesResponse_Rows:
			for _, row := range p.Rows.GetRows() {
				if len(row.GetValues()) != len(names) {
					return nil, fmt.Errorf("sluice: a row of %d values for %d columns", len(row.GetValues()), len(names))
				}
				values := make(map[string]any, len(names))
				for i, value := range row.GetValues() {
					values[names[i]] = ValueOf(value)
				}
				result.Rows = append(result.Rows, values)
			}
		case *sluicev1.GetHistoricalFeaturesResponse_Summary:
			result.RowCount, summary = p.Summary.GetRowCount(), true
		}
	}
	if !summary {
		return nil, errors.New("sluice: the GetHistoricalFeatures stream ended without a summary")
	}
	return result, nil
}

// sendHistorical writes the query and the spine batches, then closes the client's side (which
// starts the join for an inline spine). A send that fails because the server ended the call
// returns io.EOF; the call's status then comes from Recv, so it is not reported here.
func sendHistorical(stream sluicev1.TrainingService_GetHistoricalFeaturesClient, query *sluicev1.HistoricalFeaturesQuery, spine []*sluicev1.SpineBatch) error {
	requests := []*sluicev1.GetHistoricalFeaturesRequest{{Part: &sluicev1.GetHistoricalFeaturesRequest_Query{Query: query}}}
	for _, batch := range spine {
		requests = append(requests, &sluicev1.GetHistoricalFeaturesRequest{Part: &sluicev1.GetHistoricalFeaturesRequest_SpineBatch{SpineBatch: batch}})
	}
	for _, request := range requests {
		if err := stream.Send(request); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	return stream.CloseSend()
}
