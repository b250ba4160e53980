package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// Online learners (docs/learning.md): models that learn from every labelled event while they
// serve. A learner "projects/{p}/learners/ctr" owns the model "projects/{p}/models/ctr": its live
// state serves as the version "ctr@live" (VersionName(p, Models, "ctr@live")) wherever a
// deployment takes a version, and each PublishLearner adds an immutable ONNX version 1, 2, ... of
// that model. The methods below take a learner as an id, placed in project, or as a full name
// (project is then not used), and return the calls' errors (decode them with Details) or an
// *ArgumentError for what they refuse before any call. ListLearners is the generated client's:
// sluicev1.NewLearningServiceClient(client.Conn).

// The kinds of learner.
const (
	// LogisticRegression learns labels 0/1 or bools; its output "probability" is P(label = 1).
	LogisticRegression = sluicev1.LearnerKind_LEARNER_KIND_LOGISTIC_REGRESSION
	// MultinomialLogisticRegression learns class indices 0..Classes-1; its output is "probabilities".
	MultinomialLogisticRegression = sluicev1.LearnerKind_LEARNER_KIND_MULTINOMIAL_LOGISTIC_REGRESSION
	// LinearRegression learns real labels (squared loss); its output is "prediction".
	LinearRegression = sluicev1.LearnerKind_LEARNER_KIND_LINEAR_REGRESSION
)

// How an input enters a learner's model.
const (
	// NumericInput is a number (an int, float or bool feature), standardised by running mean and
	// variance; a missing value reads as 0.
	NumericInput = sluicev1.LearnerInputType_LEARNER_INPUT_TYPE_NUMERIC
	// CategoricalInput is a string, hashed into the learner's HashBuckets; missing or "" is absent.
	CategoricalInput = sluicev1.LearnerInputType_LEARNER_INPUT_TYPE_CATEGORICAL
)

// LearnerInput is one input of a learner: its name (which names the ONNX input of published
// versions too), its type, and where its values come from: a Feature ref ("view:feature", pinned
// at creation; "view@2:feature"), or a Request value sent with each Predict request and with each
// label keyed by entity. Exactly one of Feature and Request.
type LearnerInput struct {
	Name    string
	Type    sluicev1.LearnerInputType
	Feature string
	Request string
}

// LearnerSpec is a learner to create. Numbers left at 0 take the server's defaults.
type LearnerSpec struct {
	Kind sluicev1.LearnerKind
	// Classes is the number of classes of a multinomial learner (at least 2).
	Classes int32
	Inputs  []LearnerInput
	// HashBuckets are shared by the categorical inputs; at least 1 when there are any.
	HashBuckets int32
	// The optimizer: exactly one of SGD, AdaGrad and FTRL.
	SGD     *sluicev1.SgdOptimizer
	AdaGrad *sluicev1.AdaGradOptimizer
	FTRL    *sluicev1.FtrlOptimizer
	// L2 is added to each weight's gradient (intercepts excluded).
	L2 float64
	// InterceptLearningRate is the intercepts' constant SGD rate (0: 0.01).
	InterceptLearningRate float64
	// DivergenceThreshold pauses the learner as diverged when its rolling mean loss exceeds it (0: 1e12).
	DivergenceThreshold float64
	// Checkpoint says when the learner's state is checkpointed (nil: every 10,000 examples or 10 seconds).
	Checkpoint *sluicev1.CheckpointPolicy
	// MetricsWindowSeconds is the width of the windowed metrics' event-time windows (0: 3600).
	MetricsWindowSeconds int64
	Description          string
}

// Label is one label: the outcome of a served prediction, by its RequestID
// (PredictResponse.RequestId) and entity Row (0 for single-row requests), or of an entity's event,
// by Entity (join key -> value) and EventTime, with the learner's request-time inputs in
// RequestFeatures. Value is Bool or a number (Int64, Double) 0/1 for a logistic learner, a class
// index for a multinomial one, a number for a linear one.
type Label struct {
	RequestID       string
	Row             int32
	Entity          map[string]*sluicev1.Value
	EventTime       time.Time
	Value           *sluicev1.Value
	RequestFeatures map[string]*sluicev1.Value
}

// LabelBatch is one WriteLabels message: labels for one learner, appended to its log whole or
// refused whole. A batch retried with the same WriteID is appended once.
type LabelBatch struct {
	// Project places a Learner given by id; unused for a full name.
	Project string
	Learner string
	Labels  []Label
	WriteID string
}

// learning is the generated client of LearningService on the client's connection.
func (c *Client) learning() sluicev1.LearningServiceClient {
	return sluicev1.NewLearningServiceClient(c.Conn)
}

// CreateLearner creates the learner spec describes and returns it, with its feature inputs
// pinned. AlreadyExists when a learner or an uploaded model has the name; InvalidArgument
// (INVALID_LEARNER) with a field violation per problem the server finds.
func (c *Client) CreateLearner(ctx context.Context, project, learner string, spec LearnerSpec) (*sluicev1.Learner, error) {
	name, err := learnerName(project, learner, "learner")
	if err != nil {
		return nil, err
	}
	message := &sluicev1.Learner{
		Name:                  name,
		Kind:                  spec.Kind,
		Classes:               spec.Classes,
		HashBuckets:           spec.HashBuckets,
		L2:                    spec.L2,
		InterceptLearningRate: spec.InterceptLearningRate,
		DivergenceThreshold:   spec.DivergenceThreshold,
		Checkpoint:            spec.Checkpoint,
		MetricsWindowSeconds:  spec.MetricsWindowSeconds,
		Description:           spec.Description,
	}
	if spec.Kind == sluicev1.LearnerKind_LEARNER_KIND_UNSPECIFIED {
		return nil, argumentError("Kind", "is required: LogisticRegression, MultinomialLogisticRegression or LinearRegression")
	}
	optimizers := 0
	if spec.SGD != nil {
		optimizers, message.Optimizer = optimizers+1, &sluicev1.Learner_Sgd{Sgd: spec.SGD}
	}
	if spec.AdaGrad != nil {
		optimizers, message.Optimizer = optimizers+1, &sluicev1.Learner_Adagrad{Adagrad: spec.AdaGrad}
	}
	if spec.FTRL != nil {
		optimizers, message.Optimizer = optimizers+1, &sluicev1.Learner_Ftrl{Ftrl: spec.FTRL}
	}
	if optimizers != 1 {
		return nil, argumentError("SGD", "set exactly one optimizer: SGD, AdaGrad or FTRL")
	}
	for i, input := range spec.Inputs {
		at := fmt.Sprintf("Inputs[%d]", i)
		if input.Name == "" {
			return nil, argumentError(at+".Name", "is required")
		}
		if input.Type != NumericInput && input.Type != CategoricalInput {
			return nil, argumentError(at+".Type", "must be NumericInput or CategoricalInput")
		}
		wire := &sluicev1.LearnerInput{Name: input.Name, Type: input.Type}
		switch {
		case input.Feature != "" && input.Request == "":
			wire.Source = &sluicev1.LearnerInput_Feature{Feature: input.Feature}
		case input.Request != "" && input.Feature == "":
			wire.Source = &sluicev1.LearnerInput_RequestFeature{RequestFeature: input.Request}
		default:
			return nil, argumentError(at, "set exactly one of Feature (a feature ref) and Request (a request value's name)")
		}
		message.Inputs = append(message.Inputs, wire)
	}
	response, err := c.learning().CreateLearner(ctx, &sluicev1.CreateLearnerRequest{Learner: message})
	if err != nil {
		return nil, err
	}
	return response.GetLearner(), nil
}

// GetLearner returns a learner with its status: state and reason, ExamplesLearned,
// EntriesConsumed, UnmatchedLabels, Lag and the prequential metrics (Cumulative, Rolling,
// Windows). Learning runs behind the label writes: poll Status.ExamplesLearned to wait for it.
func (c *Client) GetLearner(ctx context.Context, project, learner string) (*sluicev1.Learner, error) {
	name, err := learnerName(project, learner, "learner")
	if err != nil {
		return nil, err
	}
	response, err := c.learning().GetLearner(ctx, &sluicev1.GetLearnerRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return response.GetLearner(), nil
}

// WriteLabels sends the batches on one WriteLabels stream, one message each. Each is appended
// to its learner's log whole, or refused whole (InvalidArgument INVALID_LABEL, a field violation
// per bad label: "labels[1].label"); the batches appended before a refusal stay. The response
// counts the labels Accepted and those whose request id matched no logged prediction
// (Unmatched, kept in the log and listed). Learning follows asynchronously. The batches are
// checked, and their names built, before anything is sent: an *ArgumentError sends nothing.
func (c *Client) WriteLabels(ctx context.Context, batches ...LabelBatch) (*sluicev1.WriteLabelsResponse, error) {
	requests := make([]*sluicev1.WriteLabelsRequest, 0, len(batches))
	for i, batch := range batches {
		request, err := labelRequest(batch, fmt.Sprintf("batches[%d]", i))
		if err != nil {
			return nil, err
		}
		requests = append(requests, request)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the call if it stops early on an error
	stream, err := c.learning().WriteLabels(ctx)
	if err != nil {
		return nil, err
	}
	for _, request := range requests {
		// io.EOF: the server has ended the call (a refused batch); CloseAndRecv returns its status.
		if err := stream.Send(request); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

// PublishLearner publishes a learner's current state as the next immutable ONNX version of its
// model and returns the version's name ("projects/{p}/models/ctr/versions/1"). The version's
// labels carry the lineage (sluice.learner, sluice.examples, sluice.log_position, the cumulative
// metrics). FailedPrecondition (LEARNER_DIVERGED) for a diverged learner.
func (c *Client) PublishLearner(ctx context.Context, project, learner, description string) (string, error) {
	name, err := learnerName(project, learner, "learner")
	if err != nil {
		return "", err
	}
	response, err := c.learning().PublishLearner(ctx, &sluicev1.PublishLearnerRequest{Name: name, Description: description})
	if err != nil {
		return "", err
	}
	return response.GetModelVersion(), nil
}

// PauseLearner stops a learner's learning; it goes on serving, and labels still append to its
// log. It returns the learner, paused, with reason as its status's reason.
func (c *Client) PauseLearner(ctx context.Context, project, learner, reason string) (*sluicev1.Learner, error) {
	name, err := learnerName(project, learner, "learner")
	if err != nil {
		return nil, err
	}
	response, err := c.learning().PauseLearner(ctx, &sluicev1.PauseLearnerRequest{Name: name, Reason: reason})
	if err != nil {
		return nil, err
	}
	return response.GetLearner(), nil
}

// ResumeLearner starts a paused learner learning again from where it stopped (its log
// position). FailedPrecondition (LEARNER_DIVERGED) for a diverged learner: restore it first.
func (c *Client) ResumeLearner(ctx context.Context, project, learner string) (*sluicev1.Learner, error) {
	name, err := learnerName(project, learner, "learner")
	if err != nil {
		return nil, err
	}
	response, err := c.learning().ResumeLearner(ctx, &sluicev1.ResumeLearnerRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return response.GetLearner(), nil
}

// RestoreLearner rolls a learner back to the state a version published from it was exported
// from: modelVersion is "ctr@2", placed in project, or a full version name. The log position
// stays (what was learned since is not learned again); divergence is cleared, and the learner is
// then paused until resumed.
func (c *Client) RestoreLearner(ctx context.Context, project, learner, modelVersion string) (*sluicev1.Learner, error) {
	name, err := learnerName(project, learner, "learner")
	if err != nil {
		return nil, err
	}
	version, err := VersionName(project, Models, modelVersion)
	if err != nil {
		return nil, err
	}
	response, err := c.learning().RestoreLearner(ctx, &sluicev1.RestoreLearnerRequest{Name: name, ModelVersion: version})
	if err != nil {
		return nil, err
	}
	return response.GetLearner(), nil
}

// learnerName is Name(project, Learners, learner), its error naming field.
func learnerName(project, learner, field string) (string, error) {
	name, err := Name(project, Learners, learner)
	var argument *ArgumentError
	if errors.As(err, &argument) && argument.Field == "name" {
		argument.Field = field
	}
	return name, err
}

// labelRequest checks a batch and builds its WriteLabels message; at names the batch in errors.
func labelRequest(batch LabelBatch, at string) (*sluicev1.WriteLabelsRequest, error) {
	name, err := learnerName(batch.Project, batch.Learner, at+".Learner")
	if err != nil {
		return nil, err
	}
	request := &sluicev1.WriteLabelsRequest{Learner: name, WriteId: batch.WriteID}
	for j, label := range batch.Labels {
		field := fmt.Sprintf("%s.Labels[%d]", at, j)
		if label.Value == nil || label.Value.GetKind() == nil {
			return nil, argumentError(field+".Value", "is required: Bool, or a number (Int64, Double)")
		}
		if d, ok := label.Value.GetKind().(*sluicev1.Value_DoubleValue); ok && math.IsNaN(d.DoubleValue) {
			return nil, argumentError(field+".Value", "must be a number, not NaN")
		}
		if label.Row < 0 {
			return nil, argumentError(field+".Row", fmt.Sprintf("must be a row index >= 0, not %d", label.Row))
		}
		record := &sluicev1.LabelRecord{Row: label.Row, Label: label.Value, RequestFeatures: label.RequestFeatures}
		switch {
		case label.RequestID != "" && len(label.Entity) == 0:
			record.Key = &sluicev1.LabelRecord_RequestId{RequestId: label.RequestID}
		case label.RequestID == "" && len(label.Entity) > 0:
			if label.EventTime.IsZero() {
				return nil, argumentError(field+".EventTime", "is required with Entity")
			}
			record.Key = &sluicev1.LabelRecord_Entity{Entity: &sluicev1.LabelEntity{JoinKeys: label.Entity, EventTime: timestamppb.New(label.EventTime)}}
		default:
			return nil, argumentError(field, "set exactly one of RequestID (a served prediction's) and Entity (with EventTime)")
		}
		request.Labels = append(request.Labels, record)
	}
	return request, nil
}

// argumentError is an *ArgumentError for an argument other than a name.
func argumentError(field, description string) *ArgumentError {
	return &ArgumentError{Field: field, Description: description, Reason: "INVALID_ARGUMENT"}
}
