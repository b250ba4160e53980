// Command quickstart is the Sluice quickstart in Go: register an entity and a feature view, write
// rows (one batch, then a stream), read them back online, see how errors come back, read a
// point-in-time training set, and serve a model that reads its features from the store.
//
//	cd clients/go && go run ./examples/quickstart --address 127.0.0.1:50051 --project quickstart
//
// Against a server with authentication on, give a key with admin on the project (--api-key, or set
// SLUICE_API_KEY) or a JWT (--token, SLUICE_TOKEN); for TLS, --ca-file (and --cert-file/--key-file
// for mutual TLS). examples/connect shows just the connecting.
//
// It checks every answer against what Sluice promises and exits 1, naming the difference, when
// one differs; CI runs it against a real server (test/e2e/clients.e2e.test.ts). The Python example
// (clients/python/examples/quickstart.py) does the same steps and prints the same lines.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-ml/sluice/clients/go/sluice"
	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

var features = []string{"customer_stats:orders_30d", "customer_stats:spend_30d", "customer_stats:segment"}

// The model the example uploads: a logistic regression of churn over orders_30d, spend_30d and
// refunds_30d, churn_probability = sigmoid(x . weights + bias) (the demo's churn-v1.onnx; its
// parameters are in test/support/demo-models.ts). The example checks Predict against them.
var (
	modelFeatures = []string{"orders_30d", "spend_30d", "refunds_30d"}
	weights       = []float64{-0.08, -0.01, 0.5}
	bias          = 1.0
)

// latest holds the latest values the example writes for customers 1 and 3 (with a segment): what
// the online store then holds for them, and what the model reads.
var latest = map[int64]map[string]*sluicev1.Value{
	1: {"orders_30d": sluice.Int64(4), "spend_30d": sluice.Double(20.5), "refunds_30d": sluice.Int64(1)},
	3: {"orders_30d": sluice.Int64(7), "spend_30d": sluice.Double(99.75), "refunds_30d": sluice.Int64(0)},
}

// mismatch is an answer other than the one the example expects.
type mismatch struct{ what string }

func (m mismatch) Error() string { return m.what }

func expect(what string, actual, expected any) {
	if !reflect.DeepEqual(actual, expected) {
		panic(mismatch{fmt.Sprintf("%s: expected %#v, got %#v", what, expected, actual)})
	}
}

func expectClose(what string, actual, expected, tolerance float64) {
	if !(math.Abs(actual-expected) <= tolerance) {
		panic(mismatch{fmt.Sprintf("%s: expected %.6f (within %g), got %.6f", what, expected, tolerance, actual)})
	}
}

// must stops the example on an error it did not expect.
func must[T any](value T, err error) T {
	if err != nil {
		panic(err)
	}
	return value
}

func main() {
	address := flag.String("address", "127.0.0.1:50051", "HOST:PORT of a Sluice server")
	project := flag.String("project", "quickstart", "project to create and use")
	modelFile := flag.String("model", "../../src/cli/demo-models/churn-v1.onnx", "the ONNX file to upload (the demo's churn-v1.onnx; the default is relative to clients/go)")
	apiKey := flag.String("api-key", os.Getenv("SLUICE_API_KEY"), "API key (default: $SLUICE_API_KEY)")
	token := flag.String("token", os.Getenv("SLUICE_TOKEN"), "bearer token, a JWT (default: $SLUICE_TOKEN)")
	caFile := flag.String("ca-file", "", "PEM CA bundle: connect over TLS, trusting it")
	certFile := flag.String("cert-file", "", "PEM client certificate, for mutual TLS (with --key-file)")
	keyFile := flag.String("key-file", "", "PEM key of --cert-file")
	flag.Parse()
	model, err := os.ReadFile(*modelFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "--model:", err)
		os.Exit(2)
	}

	// Empty credentials send nothing; without --ca-file the connection is plaintext.
	options := []grpc.DialOption{sluice.WithAPIKey(*apiKey), sluice.WithToken(*token)}
	if *caFile != "" || *certFile != "" {
		options = append(options, sluice.WithTLS(sluice.TLSConfig{CAFile: *caFile, CertFile: *certFile, KeyFile: *keyFile}))
	}
	client, err := sluice.Dial(*address, options...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer client.Close()
	if err := run(client, *project, model); err != nil {
		var m mismatch
		if errors.As(err, &m) {
			fmt.Fprintln(os.Stderr, "MISMATCH", m.what)
		} else if d := sluice.Details(err); d != nil {
			fmt.Fprintln(os.Stderr, "UNEXPECTED ERROR", d.Code, d.Message, d.Reason, d.FieldViolations)
		} else {
			fmt.Fprintln(os.Stderr, "UNEXPECTED ERROR", err)
		}
		client.Close()
		os.Exit(1)
	}
	fmt.Println("ok")
}

// run turns the panics of expect and must into an error, so main reports one line.
func run(client *sluice.Client, project string, model []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
				return
			}
			panic(r)
		}
	}()
	quickstart(client, project, model)
	return nil
}

func quickstart(client *sluice.Client, project string, model []byte) {
	// One deadline bounds the whole example; a real program gives each call its own.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Resource-name fields take full names: sluice.ProjectName and sluice.Name build them from ids
	// (and return a full name unchanged).
	parent := must(sluice.ProjectName(project))
	viewName := must(sluice.Name(project, sluice.FeatureViews, "customer_stats"))

	health := must(client.Health.Check(ctx, &healthpb.HealthCheckRequest{}))
	expect("health", health.GetStatus().String(), "SERVING")
	fmt.Println("health:", health.GetStatus())

	_, err := client.Registry.CreateProject(ctx, &sluicev1.CreateProjectRequest{Project: &sluicev1.Project{Name: parent}})
	if err == nil {
		fmt.Printf("project %s: created\n", project)
	} else {
		d := sluice.Details(err)
		expect("create an existing project", []any{d.Code, d.Reason}, []any{codes.AlreadyExists, "PROJECT_ALREADY_EXISTS"})
		fmt.Printf("project %s: already exists\n", project)
	}

	// Definitions. Applying the same definition again is a no-op (UNCHANGED).
	entity := must(client.Registry.ApplyEntity(ctx, &sluicev1.ApplyEntityRequest{Entity: &sluicev1.Entity{
		Name:        must(sluice.Name(project, sluice.Entities, "customer")),
		JoinKeys:    []*sluicev1.JoinKey{{Name: "customer_id", Type: sluicev1.ValueType_VALUE_TYPE_INT64}},
		Description: "a paying customer",
	}}))
	created := entity.GetOutcome() == sluicev1.ApplyOutcome_APPLY_OUTCOME_CREATED
	expect("entity outcome", created || entity.GetOutcome() == sluicev1.ApplyOutcome_APPLY_OUTCOME_UNCHANGED, true)
	fmt.Println("entity customer:", entity.GetOutcome())
	view := &sluicev1.FeatureView{
		Name:   viewName,
		Entity: "customer",
		Features: []*sluicev1.Feature{
			{Name: "orders_30d", Type: sluicev1.ValueType_VALUE_TYPE_INT64},
			{Name: "spend_30d", Type: sluicev1.ValueType_VALUE_TYPE_DOUBLE},
			{Name: "segment", Type: sluicev1.ValueType_VALUE_TYPE_STRING},
			{Name: "refunds_30d", Type: sluicev1.ValueType_VALUE_TYPE_INT64},
		},
		Ttl: durationpb.New(30 * 24 * time.Hour),
	}
	applied := must(client.Registry.ApplyFeatureView(ctx, &sluicev1.ApplyFeatureViewRequest{FeatureView: view}))
	version := applied.GetFeatureView().GetVersion()
	fmt.Printf("feature view customer_stats: %s, version %d\n", applied.GetOutcome(), version)
	again := must(client.Registry.ApplyFeatureView(ctx, &sluicev1.ApplyFeatureViewRequest{FeatureView: view}))
	expect("re-applied view", []any{again.GetOutcome().String(), again.GetFeatureView().GetVersion()}, []any{"APPLY_OUTCOME_UNCHANGED", version})
	fmt.Printf("feature view customer_stats again: %s, version %d\n", again.GetOutcome(), again.GetFeatureView().GetVersion())

	// One batch (WriteFeatureBatch). The third row has a string where a double belongs: it is
	// rejected with a field path, and the good rows are stored all the same.
	now := time.Now().UTC().Truncate(time.Second)
	hourAgo, tenMinutesAgo, twoHoursAgo := now.Add(-time.Hour), now.Add(-10*time.Minute), now.Add(-2*time.Hour)
	batchRows := []*sluicev1.FeatureRow{
		row(1, hourAgo, map[string]*sluicev1.Value{"orders_30d": sluice.Int64(3), "spend_30d": sluice.Double(12.5), "segment": sluice.String("gold")}),
		row(2, hourAgo, map[string]*sluicev1.Value{"orders_30d": sluice.Int64(1), "spend_30d": sluice.Double(4.25)}),
		row(9, hourAgo, map[string]*sluicev1.Value{"spend_30d": sluice.String("lots")}),
	}
	// Write ids make retries apply once; a fresh prefix per run keeps re-runs from being duplicates.
	runID := randomID()
	batch := &sluicev1.WriteFeatureBatchRequest{Project: parent, FeatureView: "customer_stats", Rows: batchRows, WriteId: runID + "-batch-1"}
	written := must(client.Ingestion.WriteFeatureBatch(ctx, batch))
	expect("batch accepted", written.GetAcceptedCount(), int32(2))
	expect("batch rejections", rejections(written.GetRejectedRows()), []string{`2 rows[2].features["spend_30d"]`})
	fmt.Printf("WriteFeatureBatch: accepted %d, rejected row 2 at %s\n", written.GetAcceptedCount(), written.GetRejectedRows()[0].GetViolations()[0].GetField())
	retried := must(client.Ingestion.WriteFeatureBatch(ctx, batch))
	expect("retried batch", []any{retried.GetDuplicate(), retried.GetAcceptedCount()}, []any{true, int32(2)})
	fmt.Printf("WriteFeatureBatch retried with the same write id: duplicate %t\n", retried.GetDuplicate())

	// A stream of batches (WriteFeatures), one acknowledgement per batch, in order. The second
	// batch holds an older event for customer 2: it is stored in the history, but online the
	// newer value stays.
	batches := []*sluicev1.WriteFeaturesRequest{
		{Project: parent, FeatureView: "customer_stats", WriteId: runID + "-stream-1", Rows: []*sluicev1.FeatureRow{
			row(1, tenMinutesAgo, with(latest[1], "segment", sluice.String("gold"))),
			row(3, tenMinutesAgo, with(latest[3], "segment", sluice.String("silver"))),
		}},
		{Project: parent, FeatureView: "customer_stats", WriteId: runID + "-stream-2", Rows: []*sluicev1.FeatureRow{
			row(2, twoHoursAgo, map[string]*sluicev1.Value{"orders_30d": sluice.Int64(0), "spend_30d": sluice.Double(0.5)}),
		}},
	}
	stream := must(client.Ingestion.WriteFeatures(ctx))
	for _, b := range batches {
		if err := stream.Send(b); err != nil {
			panic(err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		panic(err)
	}
	for number := 1; ; number++ {
		ack, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			expect("stream acks", number-1, len(batches))
			break
		}
		must(ack, err)
		b := batches[number-1]
		expect("stream ack", []any{ack.GetWriteId(), ack.GetAcceptedCount(), len(ack.GetRejectedRows())}, []any{b.GetWriteId(), int32(len(b.GetRows())), 0})
		fmt.Printf("WriteFeatures: ack %d accepted %d\n", number, ack.GetAcceptedCount())
	}

	// Online reads: the newest event wins; a feature written as null is NULL_VALUE; an entity never
	// written is NOT_FOUND (its event time is the epoch).
	read := must(client.Online.GetOnlineFeatures(ctx, &sluicev1.GetOnlineFeaturesRequest{
		Project:  parent,
		Features: features,
		Entities: map[string]*sluicev1.ValueColumn{"customer_id": {Values: []*sluicev1.Value{sluice.Int64(1), sluice.Int64(2), sluice.Int64(3), sluice.Int64(4)}}},
	}))
	expect("feature names", read.GetFeatureNames(), []string{"orders_30d", "spend_30d", "segment"})
	expected := []struct {
		values     []any
		statuses   []string
		eventTimes time.Time
	}{
		{[]any{int64(4), 20.5, "gold"}, []string{"PRESENT", "PRESENT", "PRESENT"}, tenMinutesAgo},
		{[]any{int64(1), 4.25, nil}, []string{"PRESENT", "PRESENT", "NULL_VALUE"}, hourAgo},
		{[]any{int64(7), 99.75, "silver"}, []string{"PRESENT", "PRESENT", "PRESENT"}, tenMinutesAgo},
		{[]any{nil, nil, nil}, []string{"NOT_FOUND", "NOT_FOUND", "NOT_FOUND"}, time.Unix(0, 0).UTC()},
	}
	for i, want := range expected {
		customer := int64(i + 1)
		shown := map[string]any{"customer_id": customer}
		var values []any
		var statuses []string
		for f, name := range read.GetFeatureNames() {
			column := read.GetColumns()[f]
			status := strings.TrimPrefix(column.GetStatuses()[i].String(), "FEATURE_STATUS_")
			values = append(values, sluice.ValueOf(column.GetValues()[i]))
			statuses = append(statuses, status)
			shown[name], shown[name+"__status"] = values[f], status
		}
		expect(fmt.Sprintf("customer %d values", customer), values, want.values)
		expect(fmt.Sprintf("customer %d statuses", customer), statuses, want.statuses)
		expect(fmt.Sprintf("customer %d event time", customer), read.GetColumns()[0].GetEventTimes()[i].AsTime(), want.eventTimes)
		fmt.Println("GetOnlineFeatures:", string(must(json.Marshal(shown))))
	}

	// Errors carry a google.rpc.Status: ErrorInfo (reason, metadata) and, for INVALID_ARGUMENT,
	// BadRequest field violations.
	_, err = client.Ingestion.WriteFeatureBatch(ctx, &sluicev1.WriteFeatureBatchRequest{Project: parent, FeatureView: "no_such_view", Rows: batchRows[:1]})
	unknown := sluice.Details(err)
	expect("unknown view is an error", unknown != nil, true)
	expect("unknown view", []any{unknown.Code, unknown.Reason}, []any{codes.NotFound, "FEATURE_VIEW_NOT_FOUND"})
	fmt.Printf("unknown view: %s %s %s\n", codeName(unknown.Code), unknown.Reason, unknown.Metadata["resource_name"])

	_, err = client.Registry.ApplyFeatureView(ctx, &sluicev1.ApplyFeatureViewRequest{FeatureView: &sluicev1.FeatureView{
		Name:   must(sluice.Name(project, sluice.FeatureViews, "bad_view")),
		Entity: "customer",
		Features: []*sluicev1.Feature{
			{Name: "1st", Type: sluicev1.ValueType_VALUE_TYPE_INT64},
			{Name: "event_time", Type: sluicev1.ValueType_VALUE_TYPE_DOUBLE},
		},
	}})
	invalid := sluice.Details(err)
	expect("invalid view is an error", invalid != nil, true)
	var fields []string
	for _, v := range invalid.FieldViolations {
		fields = append(fields, v.Field)
	}
	expect("invalid view", []any{invalid.Code, invalid.Reason}, []any{codes.InvalidArgument, "INVALID_FEATURE_VIEW"})
	expect("invalid view fields", fields, []string{"feature_view.features[0].name", "feature_view.features[1].name"})
	fmt.Printf("invalid view: %s %s %s\n", codeName(invalid.Code), invalid.Reason, strings.Join(fields, " "))

	names(ctx, client, project, viewName)
	trainingData(ctx, client, parent, runID)
	modelServing(ctx, client, project, model, version)
}

// names checks the naming rule without printing: a resource-name field takes the full name, and
// the server refuses a bare id there, showing the full form; sluice.Name refuses a malformed id
// before any call, with the form it expects; refs take both forms ("customer_stats:orders_30d",
// or "projects/{project}/featureViews/customer_stats:orders_30d", in the request's project).
func names(ctx context.Context, client *sluice.Client, project, viewName string) {
	byName := must(client.Registry.GetFeatureView(ctx, &sluicev1.GetFeatureViewRequest{Name: viewName}))
	pinned := must(client.Registry.GetFeatureView(ctx, &sluicev1.GetFeatureViewRequest{Name: viewName + "/versions/1"}))
	expect("view by full name", []any{byName.GetFeatureView().GetName(), pinned.GetFeatureView().GetVersion()}, []any{viewName, int32(1)})

	_, err := client.Registry.GetFeatureView(ctx, &sluicev1.GetFeatureViewRequest{Name: "customer_stats"})
	bare := sluice.Details(err)
	expect("bare id as a name is an error", bare != nil, true)
	expect("bare id as a name", []any{bare.Code, bare.Reason}, []any{codes.InvalidArgument, "INVALID_RESOURCE_NAME"})
	expect("bare id refusal shows the full form", len(bare.FieldViolations) == 1 && strings.Contains(bare.FieldViolations[0].Description, "projects/"), true)

	_, err = sluice.Name(project, sluice.FeatureViews, "customer-stats")
	malformed := sluice.Details(err)
	expect("malformed name is an error", malformed != nil, true)
	expect("malformed name", []any{malformed.Code, malformed.Reason, malformed.FieldViolations[0].Field}, []any{codes.InvalidArgument, "INVALID_RESOURCE_NAME", "name"})
	expect("malformed name shows the full form", strings.Contains(malformed.Message, "projects/{project}/featureViews/{id}"), true)

	parent := must(sluice.ProjectName(project))
	read := func(refs []string) []string {
		response := must(client.Online.GetOnlineFeatures(ctx, &sluicev1.GetOnlineFeaturesRequest{
			Project:  parent,
			Features: refs,
			Entities: map[string]*sluicev1.ValueColumn{"customer_id": {Values: []*sluicev1.Value{sluice.Int64(1), sluice.Int64(2), sluice.Int64(3), sluice.Int64(4)}}},
		}))
		var shown []string
		for f, column := range response.GetColumns() {
			for row, value := range column.GetValues() {
				shown = append(shown, fmt.Sprintf("%s %d %v %s", response.GetFeatureNames()[f], row, sluice.ValueOf(value), column.GetStatuses()[row]))
			}
		}
		return shown
	}
	var fullRefs []string
	for _, ref := range features {
		fullRefs = append(fullRefs, viewName+ref[strings.Index(ref, ":"):])
	}
	expect("full-form refs", read(fullRefs), read(features))
}

// trainingData reads a point-in-time training set (GetHistoricalFeatures) over a history the
// example writes itself. The history is on fixed dates in 2025, so the answer is the same at every
// run on the same project; the rows written above are from the last hours, after every spine time,
// so they never show here (and being older, this history never shows online).
func trainingData(ctx context.Context, client *sluice.Client, parent, runID string) {
	history := []*sluicev1.FeatureRow{
		row(1, day("2025-01-10"), map[string]*sluicev1.Value{"orders_30d": sluice.Int64(2), "spend_30d": sluice.Double(8.5), "segment": sluice.String("silver")}),
		row(1, day("2025-02-10"), map[string]*sluicev1.Value{"orders_30d": sluice.Int64(5), "spend_30d": sluice.Double(31.25), "segment": sluice.String("gold")}),
		row(2, day("2025-01-20"), map[string]*sluicev1.Value{"orders_30d": sluice.Int64(1), "spend_30d": sluice.Double(2.75)}),
	}
	written := must(client.Ingestion.WriteFeatureBatch(ctx, &sluicev1.WriteFeatureBatchRequest{
		Project: parent, FeatureView: "customer_stats", Rows: history, WriteId: runID + "-history",
	}))
	expect("history accepted", []any{written.GetAcceptedCount(), len(written.GetRejectedRows())}, []any{int32(3), 0})
	fmt.Printf("WriteFeatureBatch: history of 2025 accepted %d\n", written.GetAcceptedCount())

	// The spine: an entity and a time per row, with a label passed through. Each row gets the latest
	// values at its time and never later ones: before customer 1's first event nothing (nulls); on
	// 2025-01-31 the January values, not February's; on 2025-03-31 nothing again, because the
	// newest value (2025-02-10) is older than the view's 30-day TTL.
	spine := []struct {
		customer int64
		day      string
		churned  bool
		values   []any // orders_30d, spend_30d, segment
	}{
		{1, "2025-01-05", false, []any{nil, nil, nil}},
		{1, "2025-01-31", false, []any{int64(2), 8.5, "silver"}},
		{1, "2025-02-28", false, []any{int64(5), 31.25, "gold"}},
		{1, "2025-03-31", true, []any{nil, nil, nil}},
		{2, "2025-02-01", true, []any{int64(1), 2.75, nil}},
	}
	batch := &sluicev1.SpineBatch{}
	for _, s := range spine {
		batch.Rows = append(batch.Rows, &sluicev1.SpineRow{
			EntityKey:    map[string]*sluicev1.Value{"customer_id": sluice.Int64(s.customer)},
			EventTime:    timestamppb.New(day(s.day)),
			ExtraColumns: map[string]*sluicev1.Value{"churned": sluice.Bool(s.churned)},
		})
	}
	// GetHistoricalRows sends the query and the spine on the GetHistoricalFeatures stream, closes
	// its side (the join then runs) and collects the schema, the rows and the summary.
	result := must(client.GetHistoricalRows(ctx, &sluicev1.HistoricalFeaturesQuery{Project: parent, Features: features}, batch))
	var columns []string
	for _, column := range result.Schema.GetColumns() {
		columns = append(columns, column.GetName())
	}
	expect("historical columns", columns, []string{"customer_id", "event_time", "churned", "orders_30d", "spend_30d", "segment"})
	expect("historical rows", []any{len(result.Rows), result.RowCount}, []any{len(spine), int64(len(spine))})
	for i, s := range spine {
		r := result.Rows[i]
		expect(fmt.Sprintf("historical row %d (customer %d at %s)", i+1, s.customer, s.day),
			[]any{r["customer_id"], r["event_time"], r["churned"], r["orders_30d"], r["spend_30d"], r["segment"]},
			append([]any{s.customer, day(s.day), s.churned}, s.values...))
		shown := map[string]any{}
		for name, value := range r {
			shown[name] = value
		}
		shown["event_time"] = r["event_time"].(time.Time).Format(time.RFC3339)
		fmt.Println("GetHistoricalFeatures:", string(must(json.Marshal(shown))))
	}
}

// modelServing uploads an ONNX model bound to pinned features, deploys it, and calls Predict: the
// server reads the features of the entities from its online store and runs the model.
func modelServing(ctx context.Context, client *sluice.Client, project string, model []byte, viewVersion int32) {
	endpoint := must(sluice.Name(project, sluice.Endpoints, "churn"))
	var refs []string
	for _, name := range modelFeatures {
		refs = append(refs, fmt.Sprintf("customer_stats@%d:%s", viewVersion, name))
	}
	// UploadModel streams the header (with the file's SHA-256) and then the file in chunks.
	uploaded := must(client.UploadModel(ctx, &sluicev1.ModelUploadHeader{
		Model: must(sluice.Name(project, sluice.Models, "churn")),
		InputBindings: []*sluicev1.ModelInputBinding{{
			InputName: "features",
			Source:    &sluicev1.ModelInputBinding_Features{Features: &sluicev1.FeatureRefList{Refs: refs}},
		}},
		Description: "churn, from the quickstart",
	}, model))
	sum := sha256.Sum256(model)
	expect("uploaded sha256", uploaded.GetSha256(), hex.EncodeToString(sum[:]))
	var bindings []string
	for _, b := range uploaded.GetInputBindings() {
		bindings = append(bindings, b.GetInputName()+" "+strings.Join(b.GetFeatures().GetRefs(), " "))
	}
	expect("uploaded bindings", bindings, []string{"features " + strings.Join(refs, " ")})
	expect("model inputs", tensors(uploaded.GetInputs()), []string{"features float32 [-1, 3]"})
	expect("model outputs", tensors(uploaded.GetOutputs()), []string{"churn_probability float32 [-1, 1]"})
	fmt.Printf("UploadModel: %s, input %s from %s, output %s\n",
		shortVersion(uploaded.GetName()), tensors(uploaded.GetInputs())[0], strings.Join(refs, " "), tensors(uploaded.GetOutputs())[0])

	applied := must(client.Models.ApplyDeployment(ctx, &sluicev1.ApplyDeploymentRequest{
		Deployment: &sluicev1.Deployment{
			Name:                 endpoint,
			StableVersion:        uploaded.GetName(),
			MissingFeaturePolicy: sluicev1.MissingFeaturePolicy_MISSING_FEATURE_POLICY_USE_DEFAULT,
		},
		Reason: "quickstart",
	}))
	deployment := applied.GetDeployment()
	expect("deployment stable version", deployment.GetStableVersion(), uploaded.GetName())
	fmt.Printf("ApplyDeployment: endpoint churn, stable %s, revision %d\n", shortVersion(deployment.GetStableVersion()), deployment.GetRevision())

	// Predict for customers 1 and 3 in one request; the probabilities are checked against the same
	// logistic regression computed here from the values written above.
	customers := []int64{1, 3}
	prediction := must(client.Inference.Predict(ctx, &sluicev1.PredictRequest{
		Endpoint: endpoint,
		Entities: map[string]*sluicev1.ValueColumn{"customer_id": {Values: []*sluicev1.Value{sluice.Int64(customers[0]), sluice.Int64(customers[1])}}},
	}))
	expect("served version", []any{prediction.GetModelVersion(), prediction.GetRole()}, []any{uploaded.GetName(), "stable"})
	var outputs []string
	for _, o := range prediction.GetOutputs() {
		outputs = append(outputs, fmt.Sprintf("%s %v %d", o.GetName(), o.GetRowShape(), len(o.GetValues())))
	}
	expect("prediction outputs", outputs, []string{"churn_probability [1] 2"})
	var used []string
	for _, u := range prediction.GetUsedFeatures() {
		f := u.GetFeature()
		used = append(used, fmt.Sprintf("%s@%d:%s", f.GetFeatureView()[strings.LastIndex(f.GetFeatureView(), "/")+1:], f.GetVersion(), f.GetFeature()))
	}
	expect("used features", used, refs)
	for row, customer := range customers {
		z := bias
		for i, name := range modelFeatures {
			z += weights[i] * toFloat(sluice.ValueOf(latest[customer][name]))
		}
		expected := 1 / (1 + math.Exp(-z))
		probability := prediction.GetOutputs()[0].GetValues()[row]
		expectClose(fmt.Sprintf("customer %d churn_probability", customer), probability, expected, 1e-5)
		var statuses []string
		for _, u := range prediction.GetUsedFeatures() {
			statuses = append(statuses, strings.TrimPrefix(u.GetStatuses()[row].String(), "FEATURE_STATUS_"))
		}
		expect(fmt.Sprintf("customer %d feature statuses", customer), statuses, []string{"PRESENT", "PRESENT", "PRESENT"})
		fmt.Printf("Predict: customer %d churn_probability %.4f by %s (%s), features %s\n",
			customer, probability, shortVersion(prediction.GetModelVersion()), prediction.GetRole(), strings.Join(statuses, " "))
	}
}

func row(customer int64, eventTime time.Time, values map[string]*sluicev1.Value) *sluicev1.FeatureRow {
	return &sluicev1.FeatureRow{
		EntityKey: map[string]*sluicev1.Value{"customer_id": sluice.Int64(customer)},
		EventTime: timestamppb.New(eventTime),
		Features:  values,
	}
}

// with returns a copy of values with name set to value.
func with(values map[string]*sluicev1.Value, name string, value *sluicev1.Value) map[string]*sluicev1.Value {
	out := map[string]*sluicev1.Value{name: value}
	for k, v := range values {
		out[k] = v
	}
	return out
}

// day parses "2025-01-10" as midnight UTC.
func day(date string) time.Time {
	return must(time.Parse(time.DateOnly, date))
}

// tensors shows tensor specs as "name type [d0, d1]".
func tensors(specs []*sluicev1.TensorSpec) []string {
	var out []string
	for _, t := range specs {
		dims := make([]string, len(t.GetShape()))
		for i, d := range t.GetShape() {
			dims[i] = fmt.Sprint(d)
		}
		out = append(out, fmt.Sprintf("%s %s [%s]", t.GetName(), t.GetElementType(), strings.Join(dims, ", ")))
	}
	return out
}

// shortVersion turns "projects/p/models/churn/versions/1" into "churn@1".
func shortVersion(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) != 6 {
		return name
	}
	return parts[3] + "@" + parts[5]
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	default:
		panic(fmt.Sprintf("not a number: %#v", v))
	}
}

func rejections(rows []*sluicev1.RowRejection) []string {
	var out []string
	for _, r := range rows {
		for _, v := range r.GetViolations() {
			out = append(out, fmt.Sprintf("%d %s", r.GetRowIndex(), v.GetField()))
		}
	}
	return out
}

// codeName spells a code as the gRPC spec does ("NOT_FOUND"), as the other clients print it.
func codeName(code codes.Code) string {
	names := map[codes.Code]string{codes.NotFound: "NOT_FOUND", codes.InvalidArgument: "INVALID_ARGUMENT"}
	if name, ok := names[code]; ok {
		return name
	}
	return code.String()
}

func randomID() string {
	b := make([]byte, 6)
	must(rand.Read(b))
	return hex.EncodeToString(b)
}
