// Command connect connects to a Sluice server with credentials and says who the server thinks the
// caller is.
//
//	# An API key (or set SLUICE_API_KEY), in plaintext to a server on this machine:
//	go run ./examples/connect --address 127.0.0.1:50051 --api-key sk_...
//	# TLS with a CA bundle, and a client certificate for mutual TLS:
//	go run ./examples/connect --address sluice.example.com:443 --ca-file ca.pem --cert-file client.pem --key-file client-key.pem
//
// It lists the projects (ListProjects) and asks WhoAmI, printing one line each, then "ok". A failed
// call prints "ERROR <CODE> <message>" on stderr and exits 1. The Python example
// (clients/python/examples/connect.py) takes the same flags and prints the same lines;
// test/e2e/clients-auth.e2e.test.ts runs both against a server with authentication on.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/sluice-ml/sluice/clients/go/sluice"
	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

func main() {
	address := flag.String("address", "127.0.0.1:50051", "HOST:PORT of a Sluice server")
	apiKey := flag.String("api-key", os.Getenv("SLUICE_API_KEY"), "API key (default: $SLUICE_API_KEY)")
	token := flag.String("token", os.Getenv("SLUICE_TOKEN"), "bearer token, a JWT (default: $SLUICE_TOKEN)")
	caFile := flag.String("ca-file", "", "PEM CA bundle: connect over TLS, trusting it")
	certFile := flag.String("cert-file", "", "PEM client certificate, for mutual TLS (with --key-file)")
	keyFile := flag.String("key-file", "", "PEM key of --cert-file")
	serverName := flag.String("server-name", "", "the name in the server's certificate, if not the address's host")
	useTLS := flag.Bool("tls", false, "connect over TLS with the system roots")
	plaintext := flag.Bool("plaintext", false, "send credentials unencrypted to a remote address on purpose")
	flag.Parse()

	// Empty credentials send nothing, so the flags can be passed through as they are.
	options := []grpc.DialOption{sluice.WithAPIKey(*apiKey), sluice.WithToken(*token)}
	switch {
	case *caFile != "" || *certFile != "" || *serverName != "" || *useTLS:
		options = append(options, sluice.WithTLS(sluice.TLSConfig{CAFile: *caFile, CertFile: *certFile, KeyFile: *keyFile, ServerName: *serverName}))
	case *plaintext:
		options = append(options, sluice.WithPlaintext())
	}
	if err := run(*address, options); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR", codeName(err), status.Convert(err).Message())
		os.Exit(1)
	}
	fmt.Println("ok")
}

func run(address string, options []grpc.DialOption) error {
	client, err := sluice.Dial(address, options...)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	listed, err := client.Registry.ListProjects(ctx, &sluicev1.ListProjectsRequest{})
	if err != nil {
		return err
	}
	var projects []string
	for _, project := range listed.GetProjects() {
		projects = append(projects, project.GetName())
	}
	fmt.Println("projects:", orNone(strings.Join(projects, ", ")))

	me, err := client.Access.WhoAmI(ctx, &sluicev1.WhoAmIRequest{})
	if err != nil {
		return err
	}
	var roles []string
	for _, role := range me.GetRoles() {
		roles = append(roles, role.GetProject()+":"+role.GetRole())
	}
	fmt.Printf("whoami: %s (%s) roles %s\n", me.GetPrincipal(), me.GetAuthentication(), orNone(strings.Join(roles, " ")))
	return nil
}

func orNone(text string) string {
	if text == "" {
		return "(none)"
	}
	return text
}

// codeName spells a status code as the gRPC spec (and the Python client) does: "UNAUTHENTICATED",
// "PERMISSION_DENIED"; Go's String() says "Unauthenticated".
func codeName(err error) string {
	name := status.Code(err).String()
	if name == "Canceled" {
		return "CANCELLED"
	}
	return strings.ToUpper(regexp.MustCompile(`([a-z])([A-Z])`).ReplaceAllString(name, "${1}_${2}"))
}
