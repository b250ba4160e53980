package sluice_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-ml/sluice/clients/go/sluice"
	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// An event stream, an aggregation feature view over it, events written in batches, and the stream's
// status. The unary calls are the generated clients' (Registry, Ingestion, Monitoring); WriteEvents
// runs the bidirectional stream. (The README's "Event streams and aggregated features" section
// shows this code; it is compiled, not run: it needs a server.)
func ExampleClient_WriteEvents() {
	ctx := context.Background()
	client, err := sluice.Dial("127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	stream, _ := sluice.Name("default", sluice.EventStreams, "transactions") // "projects/default/eventStreams/transactions"
	view, _ := sluice.Name("default", sluice.FeatureViews, "card_stats")

	_, err = client.Registry.ApplyEventStream(ctx, &sluicev1.ApplyEventStreamRequest{EventStream: &sluicev1.EventStream{
		Name:   stream,
		Entity: "card",
		Fields: []*sluicev1.StreamField{
			{Name: "amount", Type: sluicev1.ValueType_VALUE_TYPE_DOUBLE},
			{Name: "merchant", Type: sluicev1.ValueType_VALUE_TYPE_STRING},
		},
		Granularity:     durationpb.New(time.Minute),
		AllowedLateness: durationpb.New(5 * time.Minute),
		Retention:       durationpb.New(90 * 24 * time.Hour),
	}})
	if err != nil {
		log.Fatal(err)
	}
	// Every feature of an aggregation view has an Aggregation; its Type may be left unset.
	_, err = client.Registry.ApplyFeatureView(ctx, &sluicev1.ApplyFeatureViewRequest{FeatureView: &sluicev1.FeatureView{
		Name:            view,
		Entity:          "card",
		Stream:          "transactions", // a stream ref: "transactions", "transactions@2" or a full name
		LogServedValues: true,
		Features: []*sluicev1.Feature{
			{Name: "amount_sum_7d", Aggregation: &sluicev1.Aggregation{
				Function: sluicev1.AggregationFunction_AGGREGATION_FUNCTION_SUM, Field: "amount", Window: durationpb.New(7 * 24 * time.Hour),
			}},
			{Name: "big_merchants_1d", Aggregation: &sluicev1.Aggregation{
				Function: sluicev1.AggregationFunction_AGGREGATION_FUNCTION_LAST_N, Field: "merchant", K: 5,
				Filter: "amount > 100", Window: durationpb.New(24 * time.Hour),
			}},
		},
	}})
	if err != nil {
		log.Fatal(err)
	}

	acks, err := client.WriteEvents(ctx, &sluicev1.WriteEventsRequest{
		Project:     "projects/default",
		EventStream: "transactions",
		WriteId:     "events-1",
		Events: []*sluicev1.EventRow{{
			EntityKey: map[string]*sluicev1.Value{"card_id": sluice.Int64(1)},
			EventTime: timestamppb.Now(),
			Fields:    map[string]*sluicev1.Value{"amount": sluice.Double(120), "merchant": sluice.String("m1")},
		}},
	})
	if err != nil {
		log.Fatal(sluice.Details(err))
	}
	fmt.Println(acks[0].GetAcceptedCount(), acks[0].GetTooLateCount(), acks[0].GetRejectedRows())

	status, err := client.Ingestion.GetEventStreamStatus(ctx, &sluicev1.GetEventStreamStatusRequest{
		Project: "projects/default", EventStream: "transactions",
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, source := range status.GetSources() {
		fmt.Println(source.GetSource(), source.GetWatermark().AsTime(), source.GetEventCount(), source.GetTooLateCount())
	}
	report, err := client.Monitoring.CheckServedConsistency(ctx, &sluicev1.CheckServedConsistencyRequest{
		Project: "projects/default", FeatureView: "card_stats",
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, feature := range report.GetFeatures() {
		fmt.Println(feature.GetFeature(), feature.GetCompared(), feature.GetMismatches())
	}
}
