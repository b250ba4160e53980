package sluice

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	sluicev1 "github.com/sluice-ml/sluice/clients/go/sluice/v1"
)

// seen records the "authorization" values of each call a test server answered, as "Method: values".
type seen struct {
	mu    sync.Mutex
	calls []string
}

func (s *seen) record(ctx context.Context, method string) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, method[strings.LastIndex(method, "/")+1:]+": "+strings.Join(md.Get("authorization"), ","))
}

func (s *seen) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}

type whoAmI struct {
	sluicev1.UnimplementedAccessServiceServer
}

func (whoAmI) WhoAmI(context.Context, *sluicev1.WhoAmIRequest) (*sluicev1.WhoAmIResponse, error) {
	return &sluicev1.WhoAmIResponse{Principal: "alice", Authentication: "api_key"}, nil
}

type projects struct {
	sluicev1.UnimplementedRegistryServiceServer
}

func (projects) ListProjects(context.Context, *sluicev1.ListProjectsRequest) (*sluicev1.ListProjectsResponse, error) {
	return &sluicev1.ListProjectsResponse{}, nil
}

// startRecorder serves WhoAmI, ListProjects and WriteEvents on 127.0.0.1:0 (over TLS when creds is
// set), recording the credentials of every call; it stops when the test ends.
func startRecorder(t *testing.T, creds credentials.TransportCredentials) (string, *seen) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	calls := &seen{}
	options := []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			calls.record(ctx, info.FullMethod)
			return handler(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			calls.record(ss.Context(), info.FullMethod)
			return handler(srv, ss)
		}),
	}
	if creds != nil {
		options = append(options, grpc.Creds(creds))
	}
	server := grpc.NewServer(options...)
	sluicev1.RegisterAccessServiceServer(server, whoAmI{})
	sluicev1.RegisterRegistryServiceServer(server, projects{})
	sluicev1.RegisterIngestionServiceServer(server, &eventIngestion{})
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	return listener.Addr().String(), calls
}

// dial connects with options; the client is closed when the test ends.
func dial(t *testing.T, address string, options ...grpc.DialOption) *Client {
	t.Helper()
	client, err := Dial(address, options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// callEveryWay makes a unary call of each of two services and a WriteEvents stream; the first error is returned.
func callEveryWay(client *Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Access.WhoAmI(ctx, &sluicev1.WhoAmIRequest{}); err != nil {
		return err
	}
	if _, err := client.Registry.ListProjects(ctx, &sluicev1.ListProjectsRequest{}); err != nil {
		return err
	}
	_, err := client.WriteEvents(ctx, eventBatch("transactions", "w1", 1), eventBatch("transactions", "w2", 1))
	return err
}

func every(authorization string) []string {
	return []string{"WhoAmI: " + authorization, "ListProjects: " + authorization, "WriteEvents: " + authorization}
}

func expectCalls(t *testing.T, calls *seen, expected []string) {
	t.Helper()
	if got := calls.take(); !reflect.DeepEqual(got, expected) {
		t.Fatalf("the server saw %q, expected %q", got, expected)
	}
}

func TestDialRefusesOptionsThatDoNotGoTogether(t *testing.T) {
	for _, tc := range []struct {
		name    string
		options []grpc.DialOption
		message string
	}{
		{"two credentials", []grpc.DialOption{WithAPIKey("sk_1"), WithToken("t")}, "WithToken cannot be used together with WithAPIKey"},
		{"TLS and plaintext", []grpc.DialOption{WithTLS(TLSConfig{}), WithPlaintext()}, "give one of WithTLS, WithTLSConfig and WithPlaintext"},
		{"an unreadable CA file", []grpc.DialOption{WithTLS(TLSConfig{CAFile: "/nonexistent/ca.pem"})}, "CAFile cannot be read"},
		{"a certificate without its key", []grpc.DialOption{WithTLS(TLSConfig{CertFile: "client.pem"})}, "KeyFile and CertFile go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Dial("127.0.0.1:1", tc.options...)
			var argument *ArgumentError
			if !errors.As(err, &argument) || status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v, expected an INVALID_ARGUMENT ArgumentError saying %q", err, tc.message)
			}
		})
	}
}

func TestCredentialsGoInPlaintextOnlyToLoopbackUnlessChosen(t *testing.T) {
	_, err := Dial("sluice.example:50051", WithAPIKey("sk_1"))
	if err == nil || !strings.Contains(err.Error(), "pass sluice.WithTLS, or sluice.WithPlaintext") {
		t.Fatalf("got %v, expected a refusal naming WithTLS and WithPlaintext", err)
	}
	dial(t, "sluice.example:50051", WithAPIKey("sk_1"), WithPlaintext())
	dial(t, "sluice.example:50051", WithTokenSource(func(context.Context) (string, error) { return "t", nil }), WithTLS(TLSConfig{}))
	dial(t, "sluice.example:50051")                         // no credentials: plaintext, as before
	dial(t, "sluice.example:50051", WithAPIKey(""))         // an empty key is no key
	dial(t, "localhost:50051", WithAPIKey("sk_1"))          // loopback
	dial(t, "[::1]:50051", WithToken("t"), WithPlaintext()) // both allowed
}

func TestIsLoopbackAddress(t *testing.T) {
	for _, address := range []string{"127.0.0.1:50051", "localhost:1", "LOCALHOST", "127.1.2.3:9", "[::1]:50051", "::1", "dns:///localhost:5", "unix:/tmp/s"} {
		if !IsLoopbackAddress(address) {
			t.Errorf("%q is loopback", address)
		}
	}
	for _, address := range []string{"10.0.0.1:50051", "sluice:50051", "example.com:443", "[2001:db8::1]:1", "dns:///sluice.example:1", "127.example.com:1"} {
		if IsLoopbackAddress(address) {
			t.Errorf("%q is not loopback", address)
		}
	}
}

func TestCredentialsOverPlaintext(t *testing.T) {
	address, calls := startRecorder(t, nil)

	if err := callEveryWay(dial(t, address)); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, calls, every(""))

	if err := callEveryWay(dial(t, address, WithAPIKey("sk_test"))); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, calls, every("Bearer sk_test"))

	n := 0
	source := func(context.Context) (string, error) { n++; return "jwt-" + string(rune('0'+n)), nil }
	if err := callEveryWay(dial(t, address, WithTokenSource(source))); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, calls, []string{"WhoAmI: Bearer jwt-1", "ListProjects: Bearer jwt-2", "WriteEvents: Bearer jwt-3"})

	failing := func(context.Context) (string, error) { return "", errors.New("the identity provider is down") }
	err := callEveryWay(dial(t, address, WithTokenSource(failing)))
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "the identity provider is down") {
		t.Fatalf("got %v, expected UNAUTHENTICATED naming the source's error", err)
	}
	expectCalls(t, calls, nil)
}

func TestCredentialsOverTLS(t *testing.T) {
	pki := newTestPKI(t)
	serverTLS := func(cert tls.Certificate, clientCAs *x509.CertPool) credentials.TransportCredentials {
		config := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if clientCAs != nil {
			config.ClientCAs, config.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
		}
		return credentials.NewTLS(config)
	}
	tlsAddress, tlsCalls := startRecorder(t, serverTLS(pki.server, nil))
	mtlsAddress, mtlsCalls := startRecorder(t, serverTLS(pki.server, pki.pool))
	namedAddress, namedCalls := startRecorder(t, serverTLS(pki.named, nil))
	ca := TLSConfig{CAFile: pki.caFile}
	mtls := TLSConfig{CAFile: pki.caFile, CertFile: pki.clientFile, KeyFile: pki.clientKeyFile}

	t.Run("a CA bundle and an API key", func(t *testing.T) {
		if err := callEveryWay(dial(t, tlsAddress, WithTLS(ca), WithAPIKey("sk_tls"))); err != nil {
			t.Fatal(err)
		}
		expectCalls(t, tlsCalls, every("Bearer sk_tls"))
	})

	t.Run("mutual TLS and a token source", func(t *testing.T) {
		if err := callEveryWay(dial(t, mtlsAddress, WithTLS(mtls), WithToken("jwt"))); err != nil {
			t.Fatal(err)
		}
		expectCalls(t, mtlsCalls, every("Bearer jwt"))
	})

	t.Run("a tls.Config as it is", func(t *testing.T) {
		certificate, err := tls.LoadX509KeyPair(pki.clientFile, pki.clientKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		config := &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{certificate}, MinVersion: tls.VersionTLS12}
		if err := callEveryWay(dial(t, mtlsAddress, WithTLSConfig(config))); err != nil {
			t.Fatal(err)
		}
		expectCalls(t, mtlsCalls, every(""))
	})

	t.Run("refused without the client certificate, or by a CA the client does not trust", func(t *testing.T) {
		if err := callEveryWay(dial(t, mtlsAddress, WithTLS(ca))); status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v, expected UNAVAILABLE", err)
		}
		if err := callEveryWay(dial(t, tlsAddress, WithTLS(TLSConfig{CAFile: pki.otherCAFile}))); status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v, expected UNAVAILABLE", err)
		}
		expectCalls(t, mtlsCalls, nil)
		expectCalls(t, tlsCalls, nil)
	})

	t.Run("ServerName when the address's host is not in the certificate", func(t *testing.T) {
		if err := callEveryWay(dial(t, namedAddress, WithTLS(ca))); status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v, expected UNAVAILABLE", err)
		}
		if err := callEveryWay(dial(t, namedAddress, WithTLS(TLSConfig{CAFile: pki.caFile, ServerName: "sluice.test"}))); err != nil {
			t.Fatal(err)
		}
		expectCalls(t, namedCalls, every(""))
	})
}

// testPKI is a CA (as a file and a pool), a server certificate for 127.0.0.1 and localhost, one for
// sluice.test only, a client certificate and key (files), and another CA's file.
type testPKI struct {
	pool                                           *x509.CertPool
	server, named                                  tls.Certificate
	caFile, otherCAFile, clientFile, clientKeyFile string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, kind string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	serial := int64(0)
	issue := func(template *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		template.SerialNumber = big.NewInt(serial)
		template.NotBefore, template.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
		if parent == nil {
			parent, parentKey = template, key
		}
		der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key, der
	}
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		return issue(&x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	}
	leaf := func(ca *x509.Certificate, caKey *ecdsa.PrivateKey, template *x509.Certificate) (tls.Certificate, []byte, []byte) {
		template.KeyUsage = x509.KeyUsageDigitalSignature
		_, key, der := issue(template, ca, caKey)
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der, keyDER
	}
	ca, caKey, caDER := newCA("sluice test CA")
	_, _, otherDER := newCA("another CA")
	pki := testPKI{pool: x509.NewCertPool(), caFile: write("ca.pem", "CERTIFICATE", caDER), otherCAFile: write("other-ca.pem", "CERTIFICATE", otherDER)}
	pki.pool.AddCert(ca)
	pki.server, _, _ = leaf(ca, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "server"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	pki.named, _, _ = leaf(ca, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "sluice.test"}, DNSNames: []string{"sluice.test"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	_, clientDER, clientKeyDER := leaf(ca, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "alice"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	pki.clientFile = write("alice.pem", "CERTIFICATE", clientDER)
	pki.clientKeyFile = write("alice.key", "EC PRIVATE KEY", clientKeyDER)
	return pki
}
