// Command learning shows online learning in Go: a logistic learner over two stored features and a
// request value serves live from an endpoint, learns from the outcomes of its own predictions, is
// paused and published as an ONNX version, and that version predicts what the live learner
// predicts.
//
//	cd clients/go && go run ./examples/learning --address 127.0.0.1:50051 --project learning
//
// Each run needs a fresh project (the learner and its endpoints are created, not applied): pass a
// new --project. Against a server with authentication on, give a key with admin on the project
// (--api-key, or set SLUICE_API_KEY) or a JWT (--token, SLUICE_TOKEN); for TLS, --ca-file (and
// --cert-file/--key-file for mutual TLS).
//
// It checks every answer against what Sluice promises and exits 1, naming the difference, when
// one differs; CI runs it against a real server (test/e2e/clients-learning.e2e.test.ts). The
// Python example (clients/python/examples/learning.py) does the same steps and prints the same
// lines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-ml/sluice/clients/go/sluice"
	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

const (
	rounds = 4
	// learnTimeout bounds the wait for the learner to learn what was sent (it learns behind the
	// label writes).
	learnTimeout = 30 * time.Second
)

var users = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

func ageOf(user int64) float64 { return float64(20 + user*7%30) }

func countryOf(user int64) string {
	if user%2 == 0 {
		return "fr"
	}
	return "de"
}

func hourOf(round int, user int64) int64 { return (user*5 + int64(round)*7) % 24 }

// clicks is the rule the outcomes follow: users in "fr" click, and everyone late in the evening.
func clicks(user, hour int64) bool { return countryOf(user) == "fr" || hour >= 21 }

// mismatch is an answer other than the one the example expects.
type mismatch struct{ what string }

func (m mismatch) Error() string { return m.what }

func expect(what string, actual, expected any) {
	if !reflect.DeepEqual(actual, expected) {
		panic(mismatch{fmt.Sprintf("%s: expected %#v, got %#v", what, expected, actual)})
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
	project := flag.String("project", "learning", "project to create and use (a fresh one each run)")
	apiKey := flag.String("api-key", os.Getenv("SLUICE_API_KEY"), "API key (default: $SLUICE_API_KEY)")
	token := flag.String("token", os.Getenv("SLUICE_TOKEN"), "bearer token, a JWT (default: $SLUICE_TOKEN)")
	caFile := flag.String("ca-file", "", "PEM CA bundle: connect over TLS, trusting it")
	certFile := flag.String("cert-file", "", "PEM client certificate, for mutual TLS (with --key-file)")
	keyFile := flag.String("key-file", "", "PEM key of --cert-file")
	flag.Parse()

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
	if err := run(client, *project); err != nil {
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
func run(client *sluice.Client, project string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
				return
			}
			panic(r)
		}
	}()
	learning(client, project)
	return nil
}

func learning(client *sluice.Client, project string) {
	// One deadline bounds the whole example; a real program gives each call its own.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	parent := must(sluice.ProjectName(project))

	health := must(client.Health.Check(ctx, &healthpb.HealthCheckRequest{}))
	expect("health", health.GetStatus().String(), "SERVING")
	fmt.Println("health:", health.GetStatus())
	_, err := client.Registry.CreateProject(ctx, &sluicev1.CreateProjectRequest{Project: &sluicev1.Project{Name: parent}})
	if d := sluice.Details(err); d != nil && d.Code == codes.AlreadyExists {
		panic(mismatch{fmt.Sprintf("project %s already exists: the example needs a fresh project, pass a new --project", project)})
	}
	must(0, err)
	fmt.Printf("project %s: created\n", project)

	// The features the learner reads: a number and a string per user.
	entity := must(client.Registry.ApplyEntity(ctx, &sluicev1.ApplyEntityRequest{Entity: &sluicev1.Entity{
		Name:     must(sluice.Name(project, sluice.Entities, "user")),
		JoinKeys: []*sluicev1.JoinKey{{Name: "user_id", Type: sluicev1.ValueType_VALUE_TYPE_INT64}},
	}}))
	expect("entity outcome", entity.GetOutcome().String(), "APPLY_OUTCOME_CREATED")
	fmt.Println("entity user:", entity.GetOutcome())
	view := must(client.Registry.ApplyFeatureView(ctx, &sluicev1.ApplyFeatureViewRequest{FeatureView: &sluicev1.FeatureView{
		Name:   must(sluice.Name(project, sluice.FeatureViews, "profile")),
		Entity: "user",
		Features: []*sluicev1.Feature{
			{Name: "age", Type: sluicev1.ValueType_VALUE_TYPE_DOUBLE},
			{Name: "country", Type: sluicev1.ValueType_VALUE_TYPE_STRING},
		},
	}}))
	expect("feature view", []any{view.GetOutcome().String(), view.GetFeatureView().GetVersion()}, []any{"APPLY_OUTCOME_CREATED", int32(1)})
	fmt.Printf("feature view profile: %s, version %d\n", view.GetOutcome(), view.GetFeatureView().GetVersion())
	writtenAt := time.Now().Add(-time.Hour)
	var rows []*sluicev1.FeatureRow
	for _, u := range users {
		rows = append(rows, &sluicev1.FeatureRow{
			EntityKey: map[string]*sluicev1.Value{"user_id": sluice.Int64(u)},
			EventTime: timestamppb.New(writtenAt),
			Features:  map[string]*sluicev1.Value{"age": sluice.Double(ageOf(u)), "country": sluice.String(countryOf(u))},
		})
	}
	written := must(client.Ingestion.WriteFeatureBatch(ctx, &sluicev1.WriteFeatureBatchRequest{Project: parent, FeatureView: "profile", Rows: rows}))
	expect("features accepted", []any{written.GetAcceptedCount(), len(written.GetRejectedRows())}, []any{int32(len(users)), 0})
	fmt.Printf("WriteFeatureBatch: accepted %d\n", written.GetAcceptedCount())

	// A logistic learner on a numeric feature, a categorical feature and a numeric request value.
	// Feature refs are pinned at creation ("profile:age" -> "profile@1:age").
	learner := must(client.CreateLearner(ctx, project, "ctr", sluice.LearnerSpec{
		Kind: sluice.LogisticRegression,
		Inputs: []sluice.LearnerInput{
			{Name: "age", Type: sluice.NumericInput, Feature: "profile:age"},
			{Name: "country", Type: sluice.CategoricalInput, Feature: "profile:country"},
			{Name: "hour", Type: sluice.NumericInput, Request: "hour"},
		},
		HashBuckets: 16,
		SGD:         &sluicev1.SgdOptimizer{LearningRate: 0.1},
		Checkpoint:  &sluicev1.CheckpointPolicy{EveryExamples: 20},
		Description: "clicks, from the learning example",
	}))
	var inputs []string
	for _, i := range learner.GetInputs() {
		source := i.GetFeature()
		if source == "" {
			source = "request:" + i.GetRequestFeature()
		}
		inputs = append(inputs, i.GetName()+"="+source)
	}
	expect("learner name", learner.GetName(), parent+"/learners/ctr")
	expect("learner inputs", inputs, []string{"age=profile@1:age", "country=profile@1:country", "hour=request:hour"})
	expect("new learner", []any{stateName(learner), learner.GetStatus().GetExamplesLearned()}, []any{"LEARNING", int64(0)})
	kind := strings.TrimPrefix(learner.GetKind().String(), "LEARNER_KIND_")
	fmt.Printf("CreateLearner: ctr %s, inputs %s, %s\n", kind, strings.Join(inputs, " "), stateName(learner))

	// Its live state is the version "ctr@live" of the model "ctr": an endpoint serves it as it learns.
	live := must(sluice.VersionName(project, sluice.Models, "ctr@live"))
	deployment := deploy(ctx, client, project, "ctr", live)
	fmt.Printf("ApplyDeployment: endpoint ctr, stable %s, revision %d\n", shortVersion(deployment.GetStableVersion()), deployment.GetRevision())

	// Predictions to learn from: one request of every user per round. Nothing is learned yet, so
	// each probability is the untrained 0.5.
	var served []string
	untrained := make([]float64, len(users))
	for i := range untrained {
		untrained[i] = 0.5
	}
	for round := range rounds {
		hours := make([]int64, len(users))
		for i, u := range users {
			hours[i] = hourOf(round, u)
		}
		prediction := predict(ctx, client, project, "ctr", users, hours)
		expect(fmt.Sprintf("round %d served by", round), []any{prediction.GetModelVersion(), prediction.GetRole()}, []any{live, "stable"})
		expect(fmt.Sprintf("round %d probabilities", round), probabilities(prediction), untrained)
		served = append(served, prediction.GetRequestId())
	}
	fmt.Printf("Predict: %d requests of %d rows by ctr@live (stable), every probability 0.5000\n", rounds, len(users))

	// A batch is appended whole or refused whole: a logistic learner takes 0, 1 or a bool, so the
	// second label refuses the batch, and its first label is not appended either.
	_, err = client.WriteLabels(ctx, sluice.LabelBatch{Project: project, Learner: "ctr", Labels: []sluice.Label{
		{RequestID: served[0], Row: 0, Value: sluice.Int64(1)},
		{RequestID: served[0], Row: 1, Value: sluice.Int64(2)},
	}})
	refused := sluice.Details(err)
	expect("a label of 2 for a logistic learner is refused", refused != nil, true)
	var fields []string
	for _, v := range refused.FieldViolations {
		fields = append(fields, v.Field)
	}
	expect("refused label", []any{refused.Code, refused.Reason, fields}, []any{codes.InvalidArgument, "INVALID_LABEL", []string{"labels[1].label"}})
	fmt.Printf("WriteLabels refused: INVALID_ARGUMENT %s %s\n", refused.Reason, strings.Join(fields, " "))

	// The outcomes, by the request id and row of each prediction: two batches on one stream.
	var batches []sluice.LabelBatch
	for number, span := range [][2]int{{0, rounds / 2}, {rounds / 2, rounds}} {
		batch := sluice.LabelBatch{Project: project, Learner: "ctr", WriteID: fmt.Sprintf("labels-%d", number+1)}
		for r := span[0]; r < span[1]; r++ {
			for row, u := range users {
				batch.Labels = append(batch.Labels, sluice.Label{RequestID: served[r], Row: int32(row), Value: sluice.Bool(clicks(u, hourOf(r, u)))})
			}
		}
		batches = append(batches, batch)
	}
	total := int64(rounds * len(users))
	response := must(client.WriteLabels(ctx, batches...))
	expect("labels written", []any{response.GetAccepted(), response.GetUnmatched()}, []any{total, int64(0)})
	fmt.Printf("WriteLabels: %d batches, accepted %d, unmatched %d\n", len(batches), response.GetAccepted(), response.GetUnmatched())

	// Learning runs behind the writes: wait until every label is learned.
	learner = learned(ctx, client, project, total)
	status := learner.GetStatus()
	expect("learner status",
		[]any{status.GetLag(), status.GetCumulative().GetExamples(), status.GetUnmatchedLabels(), status.GetRefusedExamples()},
		[]any{int64(0), total, int64(0), int64(0)})
	fmt.Printf("GetLearner: %s, examples_learned %d, lag %d, accuracy %.4f, log_loss %.4f\n", stateName(learner),
		status.GetExamplesLearned(), status.GetLag(), status.GetCumulative().GetAccuracy(), status.GetCumulative().GetLogLoss())

	// Pause it (it goes on serving, and learns no more), then see what it learned.
	paused := must(client.PauseLearner(ctx, project, "ctr", "publish"))
	expect("paused", stateName(paused), "PAUSED")
	fmt.Printf("PauseLearner: %s\n", stateName(paused))
	likely := probabilities(predict(ctx, client, project, "ctr", []int64{2}, []int64{22}))[0]
	unlikely := probabilities(predict(ctx, client, project, "ctr", []int64{3}, []int64{3}))[0]
	expect("a likely click scores above an unlikely one", likely > unlikely, true)
	fmt.Printf("Predict: user 2 at 22h %.4f, user 3 at 3h %.4f by ctr@live\n", likely, unlikely)

	// Publish the paused state as an immutable ONNX version of the model "ctr", with its lineage.
	version := must(client.PublishLearner(ctx, project, "ctr", "published by the learning example"))
	expect("published version", version, parent+"/models/ctr/versions/1")
	published := must(client.Models.GetModelVersion(ctx, &sluicev1.GetModelVersionRequest{Name: version})).GetModelVersion()
	labels := published.GetLabels()
	expect("published lineage", []any{labels["sluice.learner"], labels["sluice.examples"]}, []any{parent + "/learners/ctr", fmt.Sprint(total)})
	fmt.Printf("PublishLearner: %s, sluice.examples %s\n", shortVersion(version), labels["sluice.examples"])
	deployment = deploy(ctx, client, project, "ctr_published", must(sluice.VersionName(project, sluice.Models, "ctr@1")))
	expect("published deployment", deployment.GetStableVersion(), version)
	fmt.Printf("ApplyDeployment: endpoint ctr_published, stable %s, revision %d\n", shortVersion(deployment.GetStableVersion()), deployment.GetRevision())

	// The published version predicts what the live learner predicts, user 99 (no stored features) included.
	compared := 0
	everyone := append(append([]int64{}, users...), 99)
	for _, hour := range []int64{3, 12, 22} {
		hours := make([]int64, len(everyone))
		for i := range hours {
			hours[i] = hour
		}
		fromLive := predict(ctx, client, project, "ctr", everyone, hours)
		fromPublished := predict(ctx, client, project, "ctr_published", everyone, hours)
		expect("served by", []any{fromLive.GetModelVersion(), fromPublished.GetModelVersion()}, []any{live, version})
		b := probabilities(fromPublished)
		for i, a := range probabilities(fromLive) {
			if !(math.Abs(a-b[i]) < 1e-6) {
				panic(mismatch{fmt.Sprintf("user %d at %dh: live %.9f, published %.9f", everyone[i], hour, a, b[i])})
			}
			compared++
		}
	}
	fmt.Printf("Predict: %d rows, ctr@live and ctr@1 agree within 1e-6\n", compared)

	// The refused batch appended nothing: every log entry is one of the outcomes.
	final := must(client.GetLearner(ctx, project, "ctr"))
	expect("final status", []any{stateName(final), final.GetStatus().GetExamplesLearned(), final.GetStatus().GetEntriesConsumed()}, []any{"PAUSED", total, total})
	fmt.Printf("GetLearner: %s, examples_learned %d, entries_consumed %d\n", stateName(final), final.GetStatus().GetExamplesLearned(), final.GetStatus().GetEntriesConsumed())
}

// learned returns the learner once it has learned count examples (polling).
func learned(ctx context.Context, client *sluice.Client, project string, count int64) *sluicev1.Learner {
	deadline := time.Now().Add(learnTimeout)
	for {
		learner := must(client.GetLearner(ctx, project, "ctr"))
		if learner.GetStatus().GetExamplesLearned() >= count || time.Now().After(deadline) {
			expect("examples learned", learner.GetStatus().GetExamplesLearned(), count)
			return learner
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deploy routes all of an endpoint's traffic to version.
func deploy(ctx context.Context, client *sluice.Client, project, endpoint, version string) *sluicev1.Deployment {
	applied := must(client.Models.ApplyDeployment(ctx, &sluicev1.ApplyDeploymentRequest{
		Deployment: &sluicev1.Deployment{
			Name:                 must(sluice.Name(project, sluice.Endpoints, endpoint)),
			StableVersion:        version,
			MissingFeaturePolicy: sluicev1.MissingFeaturePolicy_MISSING_FEATURE_POLICY_USE_DEFAULT,
		},
		Reason: "learning example",
	}))
	expect("deployment stable version", applied.GetDeployment().GetStableVersion(), version)
	return applied.GetDeployment()
}

// predict asks endpoint for the users, with each one's hour as the request value.
func predict(ctx context.Context, client *sluice.Client, project, endpoint string, users, hours []int64) *sluicev1.PredictResponse {
	ids := &sluicev1.ValueColumn{}
	hourColumn := &sluicev1.ValueColumn{}
	for i, u := range users {
		ids.Values = append(ids.Values, sluice.Int64(u))
		hourColumn.Values = append(hourColumn.Values, sluice.Int64(hours[i]))
	}
	return must(client.Inference.Predict(ctx, &sluicev1.PredictRequest{
		Endpoint:        must(sluice.Name(project, sluice.Endpoints, endpoint)),
		Entities:        map[string]*sluicev1.ValueColumn{"user_id": ids},
		RequestFeatures: map[string]*sluicev1.ValueColumn{"hour": hourColumn},
	}))
}

// probabilities returns the "probability" output of a prediction, one per row.
func probabilities(prediction *sluicev1.PredictResponse) []float64 {
	for _, o := range prediction.GetOutputs() {
		if o.GetName() == "probability" {
			return o.GetValues()
		}
	}
	panic(mismatch{"the prediction has no probability output"})
}

func stateName(learner *sluicev1.Learner) string {
	return strings.TrimPrefix(learner.GetStatus().GetState().String(), "LEARNER_STATE_")
}

// shortVersion turns "projects/p/models/ctr/versions/live" into "ctr@live".
func shortVersion(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) != 6 {
		return name
	}
	return parts[3] + "@" + parts[5]
}
