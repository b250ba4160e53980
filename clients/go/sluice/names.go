package sluice

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Resource names follow the project's one naming rule: resource-name fields of requests (name,
// parent, endpoint, model, project, ...) hold full names such as
// "projects/{project}/featureViews/{id}[/versions/{n}]", and the server refuses a bare id there.
// The helpers below build them from an id, or check and return a full name unchanged, so code
// can take either form from its users. Refs are not names and go to the server as written: view
// refs ("view", "view@3", "projects/{p}/featureViews/view[/versions/3]") and feature refs
// ("view:feature", "view@3:feature", "projects/{p}/featureViews/view:feature"); a full-form ref
// must name the request's project.

// Collection is a kind of resource under a project, as resource names spell it.
type Collection string

// The collections of a project.
const (
	Entities         Collection = "entities"
	FeatureViews     Collection = "featureViews"
	FeatureServices  Collection = "featureServices"
	EventStreams     Collection = "eventStreams"
	Models           Collection = "models"
	Endpoints        Collection = "endpoints"
	TrainingDatasets Collection = "trainingDatasets"
	Learners         Collection = "learners"
)

// LiveVersion is the version that names a model's live state ("ctr@live",
// "projects/{p}/models/ctr/versions/live"): the state of the online learner of the model's name,
// as it learns (docs/learning.md). Endpoints serve it as any other version.
const LiveVersion = "live"

// collectionNouns names a member of each collection, with its article, and an id for messages.
var collectionNouns = map[Collection][2]string{
	Entities:         {"an entity", "customer"},
	FeatureViews:     {"a feature view", "customer_stats"},
	FeatureServices:  {"a feature service", "churn_inputs"},
	EventStreams:     {"an event stream", "transactions"},
	Models:           {"a model", "churn"},
	Endpoints:        {"an endpoint", "churn"},
	TrainingDatasets: {"a training dataset", "churn_training"},
	Learners:         {"a learner", "ctr"},
}

// versioned lists the collections whose names may end in /versions/{n}.
var versioned = map[Collection]bool{FeatureViews: true, FeatureServices: true, EventStreams: true, Models: true, TrainingDatasets: true}

var (
	resourceID    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	versionNumber = regexp.MustCompile(`^[1-9][0-9]{0,8}$`)
)

const projectsPrefix = "projects/"

// ArgumentError is an argument the client refuses before any call: a malformed resource name,
// with the form it expects, or Dial options that do not go together (a TLS file that cannot be read). Its GRPCStatus is INVALID_ARGUMENT with an ErrorInfo (Reason) and a
// BadRequest field violation, so status.Code and Details read it as they read a server's error.
type ArgumentError struct {
	// Field is the argument: "project", "name" or "version"; "options", "CAFile", ... for Dial.
	Field string
	// Description says what is wrong and the form expected.
	Description string
	// Reason is INVALID_RESOURCE_NAME for names, INVALID_ARGUMENT for Dial options.
	Reason string
}

func (e *ArgumentError) Error() string { return "sluice: " + e.Field + " " + e.Description }

// GRPCStatus returns the error as an INVALID_ARGUMENT status with its details.
func (e *ArgumentError) GRPCStatus() *status.Status {
	st := status.New(codes.InvalidArgument, e.Error())
	withDetails, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: e.Reason},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: e.Field, Description: e.Description}}},
	)
	if err != nil {
		return st
	}
	return withDetails
}

// ProjectName returns "projects/{id}" for a project given as "id" or "projects/id".
func ProjectName(project string) (string, error) {
	id, err := projectID(project)
	if err != nil {
		return "", err
	}
	return projectsPrefix + id, nil
}

// Name returns the full name of a resource of collection given by id, placed in project (an id
// or "projects/id"), or by full name, which is checked and returned unchanged (it may be in any
// project, and end in /versions/{n} where the collection is versioned):
//
//	Name("shop", FeatureViews, "customer_stats")                  // "projects/shop/featureViews/customer_stats"
//	Name("shop", Endpoints, "projects/ml/endpoints/churn")        // "projects/ml/endpoints/churn"
func Name(project string, collection Collection, idOrName string) (string, error) {
	base, version, err := parseName(project, collection, idOrName, false, "name")
	if err != nil {
		return "", err
	}
	return withVersion(base, version), nil
}

// VersionName returns the full name of a version of a model (or another versioned resource)
// given as "id@n", placed in project, or as a full version name, returned unchanged. A model's
// version may be LiveVersion, its learner's live state:
//
//	VersionName("shop", Models, "churn@3")      // "projects/shop/models/churn/versions/3"
//	VersionName("shop", Models, "ctr@live")     // "projects/shop/models/ctr/versions/live"
func VersionName(project string, collection Collection, ref string) (string, error) {
	base, version, err := parseName(project, collection, ref, true, "version")
	if err != nil {
		return "", err
	}
	return withVersion(base, version), nil
}

func projectID(project string) (string, error) {
	id := strings.TrimPrefix(project, projectsPrefix)
	if !resourceID.MatchString(id) {
		return "", invalidName("project", project, `a project id such as "default", or "projects/{project}"`)
	}
	return id, nil
}

// parseName splits an id ("id@n" too when atRef, which then needs the version) or a full name
// into its unversioned full name and its version ("" when it has none; a number, or LiveVersion
// for a model).
func parseName(project string, collection Collection, text string, atRef bool, field string) (string, string, error) {
	noun, known := collectionNouns[collection]
	if !known {
		return "", "", &ArgumentError{Field: "collection", Description: fmt.Sprintf("%q is not a collection", string(collection)), Reason: "INVALID_RESOURCE_NAME"}
	}
	suffix := ""
	switch {
	case atRef:
		suffix = "/versions/{version}"
	case versioned[collection]:
		suffix = "[/versions/{version}]"
	}
	expected := fmt.Sprintf(`%s id such as %q, or "projects/{project}/%s/{id}%s"`, noun[0], noun[1], collection, suffix)
	if atRef {
		expected = fmt.Sprintf(`%s version such as "%s@3", or "projects/{project}/%s/{id}%s"`, noun[0], noun[1], collection, suffix)
	}
	refuse := func() (string, string, error) { return "", "", invalidName(field, text, expected) }
	versionOK := func(version string) bool {
		return versionNumber.MatchString(version) || (collection == Models && version == LiveVersion)
	}

	if strings.HasPrefix(text, projectsPrefix) {
		parts := strings.Split(text, "/")
		shapeOK := len(parts) == 4 || ((atRef || versioned[collection]) && len(parts) == 6 && parts[4] == "versions")
		if !shapeOK || parts[2] != string(collection) || !resourceID.MatchString(parts[1]) || !resourceID.MatchString(parts[3]) {
			return refuse()
		}
		version := ""
		if len(parts) == 6 {
			if !versionOK(parts[5]) {
				return refuse()
			}
			version = parts[5]
		}
		if atRef && version == "" {
			return refuse()
		}
		return strings.Join(parts[:4], "/"), version, nil
	}
	id, number, hasAt := text, "", false
	if atRef {
		id, number, hasAt = strings.Cut(text, "@")
	}
	if !resourceID.MatchString(id) || (atRef && (!hasAt || !versionOK(number))) {
		return refuse()
	}
	projectIDValue, err := projectID(project)
	if err != nil {
		return "", "", err
	}
	return projectsPrefix + projectIDValue + "/" + string(collection) + "/" + id, number, nil
}

func withVersion(base string, version string) string {
	if version == "" {
		return base
	}
	return base + "/versions/" + version
}

func invalidName(field, text, expected string) *ArgumentError {
	given := "is empty"
	if text != "" {
		if len(text) > 80 {
			text = text[:77] + "..."
		}
		given = strconv.Quote(text) + " is not valid"
	}
	return &ArgumentError{Field: field, Description: given + "; expected " + expected, Reason: "INVALID_RESOURCE_NAME"}
}
