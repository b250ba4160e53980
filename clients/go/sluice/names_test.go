package sluice

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestNamesFromIDsAndFullNames(t *testing.T) {
	cases := []struct {
		got  func() (string, error)
		want string
	}{
		{func() (string, error) { return ProjectName("shop") }, "projects/shop"},
		{func() (string, error) { return ProjectName("projects/shop") }, "projects/shop"},
		{func() (string, error) { return Name("shop", FeatureViews, "customer_stats") }, "projects/shop/featureViews/customer_stats"},
		{func() (string, error) { return Name("projects/shop", Endpoints, "churn") }, "projects/shop/endpoints/churn"},
		{func() (string, error) { return Name("shop", Endpoints, "projects/ml/endpoints/churn") }, "projects/ml/endpoints/churn"},
		{func() (string, error) { return Name("shop", FeatureViews, "projects/ml/featureViews/v/versions/2") }, "projects/ml/featureViews/v/versions/2"},
		{func() (string, error) { return VersionName("shop", Models, "churn@3") }, "projects/shop/models/churn/versions/3"},
		{func() (string, error) { return Name("shop", EventStreams, "transactions") }, "projects/shop/eventStreams/transactions"},
		{func() (string, error) {
			return Name("shop", EventStreams, "projects/ml/eventStreams/transactions/versions/2")
		}, "projects/ml/eventStreams/transactions/versions/2"},
		{func() (string, error) { return VersionName("shop", EventStreams, "transactions@2") }, "projects/shop/eventStreams/transactions/versions/2"},
		{func() (string, error) { return VersionName("shop", Models, "projects/ml/models/churn/versions/4") }, "projects/ml/models/churn/versions/4"},
		{func() (string, error) { return VersionName("shop", Models, "ctr@live") }, "projects/shop/models/ctr/versions/live"},
		{func() (string, error) { return VersionName("shop", Models, "projects/ml/models/ctr/versions/live") }, "projects/ml/models/ctr/versions/live"},
		{func() (string, error) { return Name("shop", Learners, "ctr") }, "projects/shop/learners/ctr"},
		{func() (string, error) { return Name("shop", Learners, "projects/ml/learners/ctr") }, "projects/ml/learners/ctr"},
	}
	for i, c := range cases {
		got, err := c.got()
		if err != nil || got != c.want {
			t.Errorf("case %d: got %q, %v; want %q", i, got, err, c.want)
		}
	}
}

func TestMalformedNamesAreArgumentErrors(t *testing.T) {
	cases := []struct {
		err      func() error
		field    string
		expected string
	}{
		{func() error { _, err := ProjectName("My Project"); return err }, "project", `"projects/{project}"`},
		{func() error { _, err := Name("shop", FeatureViews, "customer-stats"); return err }, "name",
			`expected a feature view id such as "customer_stats", or "projects/{project}/featureViews/{id}[/versions/{version}]"`},
		{func() error { _, err := Name("shop", FeatureViews, "stats@2"); return err }, "name", `featureViews/{id}`},
		{func() error { _, err := Name("shop", FeatureViews, "projects/p/entities/stats"); return err }, "name", `featureViews/{id}`},
		{func() error { _, err := Name("shop", Endpoints, "projects/p/endpoints/churn/versions/1"); return err }, "name",
			`expected an endpoint id such as "churn", or "projects/{project}/endpoints/{id}"`},
		{func() error { _, err := Name("shop", Endpoints, ""); return err }, "name", `is empty; expected an endpoint id`},
		{func() error { _, err := Name("shop", EventStreams, "projects/p/featureViews/transactions"); return err }, "name",
			`expected an event stream id such as "transactions", or "projects/{project}/eventStreams/{id}[/versions/{version}]"`},
		{func() error { _, err := Name("Bad Project", Endpoints, "churn"); return err }, "project", `"projects/{project}"`},
		{func() error { _, err := VersionName("shop", Models, "churn"); return err }, "version", `a model version such as "churn@3"`},
		{func() error { _, err := VersionName("shop", Models, "churn@0"); return err }, "version", `/versions/{version}"`},
		{func() error { _, err := VersionName("shop", Models, "projects/p/models/churn"); return err }, "version", `a model version`},
		// Only a model has a live version, and only as its version.
		{func() error { _, err := VersionName("shop", TrainingDatasets, "data@live"); return err }, "version", `a training dataset version`},
		{func() error { _, err := VersionName("shop", Models, "ctr@LIVE"); return err }, "version", `a model version`},
		{func() error { _, err := Name("shop", Learners, "ctr@live"); return err }, "name",
			`expected a learner id such as "ctr", or "projects/{project}/learners/{id}"`},
		{func() error { _, err := Name("shop", Learners, "projects/p/learners/ctr/versions/live"); return err }, "name", `learners/{id}"`},
	}
	for i, c := range cases {
		err := c.err()
		d := Details(err)
		if d == nil {
			t.Errorf("case %d: %v is not a status error", i, err)
			continue
		}
		if status.Code(err) != codes.InvalidArgument || d.Reason != "INVALID_RESOURCE_NAME" || len(d.FieldViolations) != 1 {
			t.Errorf("case %d: got %+v", i, d)
			continue
		}
		if v := d.FieldViolations[0]; v.Field != c.field || !strings.Contains(v.Description, c.expected) {
			t.Errorf("case %d: violation %+v, want field %q and %q in the description", i, v, c.field, c.expected)
		}
	}
}

// The learner methods check their names before any call: a client without a connection refuses them.
func TestLearnerNamesAreCheckedBeforeAnyCall(t *testing.T) {
	ctx := context.Background()
	client := &Client{}
	cases := []struct {
		err   func() error
		field string
	}{
		{func() error { _, err := client.GetLearner(ctx, "shop", "ctr@live"); return err }, "learner"},
		{func() error { _, err := client.PublishLearner(ctx, "shop", "projects/shop/models/ctr", ""); return err }, "learner"},
		{func() error { _, err := client.RestoreLearner(ctx, "shop", "ctr", "ctr"); return err }, "version"},
		{func() error { _, err := client.PauseLearner(ctx, "Bad Project", "ctr", ""); return err }, "project"},
		{func() error {
			_, err := client.WriteLabels(ctx, LabelBatch{Project: "shop", Learner: "ctr"}, LabelBatch{Project: "shop", Learner: "c-t-r"})
			return err
		}, "batches[1].Learner"},
	}
	for i, c := range cases {
		d := Details(c.err())
		if d == nil || d.Reason != "INVALID_RESOURCE_NAME" || len(d.FieldViolations) != 1 || d.FieldViolations[0].Field != c.field {
			t.Errorf("case %d: got %+v, want an INVALID_RESOURCE_NAME violation of %q", i, d, c.field)
		}
	}
}
