package sluice_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/sluice-ml/sluice/clients/go/sluice"
	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// An API key in plaintext to a server on this machine, and TLS with a CA bundle, a client
// certificate (mutual TLS) and a JWT asked for on every call. (The README's "Connecting with
// credentials" section shows this code; it is compiled, not run: it needs servers.)
func ExampleDial_credentials() {
	ctx := context.Background()
	local, err := sluice.Dial("127.0.0.1:50051", sluice.WithAPIKey(os.Getenv("SLUICE_API_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	me, err := local.Access.WhoAmI(ctx, &sluicev1.WhoAmIRequest{})
	if err != nil {
		log.Fatal(err) // Unauthenticated without a valid key
	}
	fmt.Println(me.GetPrincipal(), me.GetAuthentication(), me.GetRoles())

	// The token source runs for every call: here it reads a file that something else keeps fresh
	// (a Kubernetes projected service-account token, say).
	token := func(context.Context) (string, error) {
		data, err := os.ReadFile("/var/run/secrets/sluice/token")
		return strings.TrimSpace(string(data)), err
	}
	remote, err := sluice.Dial("sluice.example.com:443",
		sluice.WithTLS(sluice.TLSConfig{CAFile: "ca.pem", CertFile: "client.pem", KeyFile: "client-key.pem"}),
		sluice.WithTokenSource(token),
	)
	if err != nil {
		log.Fatal(err) // a file that cannot be read: an *sluice.ArgumentError
	}
	defer remote.Close()
	_, err = remote.Registry.ListProjects(ctx, &sluicev1.ListProjectsRequest{})
	if err != nil {
		log.Fatal(err)
	}
}
