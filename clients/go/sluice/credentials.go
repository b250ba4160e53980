package sluice

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TokenSource returns the bearer token (a JWT) for one call. It is called for every call, with the
// call's context, so a rotating token is always fresh; it should cache. An error fails the call with
// UNAUTHENTICATED before it is sent (or with the error's own code when it is a status error).
type TokenSource func(ctx context.Context) (string, error)

// TLSConfig is TLS to the server from PEM files: a CA bundle (empty: the system roots) and, for
// mutual TLS, a client certificate and its key. ServerName is the name the server's certificate must
// carry when it is not the address's host (an IP address, a tunnel).
type TLSConfig struct {
	CAFile     string
	CertFile   string
	KeyFile    string
	ServerName string
}

// WithAPIKey sends an API key ("sk_...") as "authorization: Bearer <key>" on every call. An empty
// key sends nothing, so WithAPIKey(os.Getenv("SLUICE_API_KEY")) works whether or not it is set.
func WithAPIKey(key string) grpc.DialOption {
	return credentialOption{kind: "WithAPIKey", source: staticToken(key), empty: key == ""}
}

// WithToken sends a bearer token (a JWT) as "authorization: Bearer <token>" on every call; empty
// sends nothing.
func WithToken(token string) grpc.DialOption {
	return credentialOption{kind: "WithToken", source: staticToken(token), empty: token == ""}
}

// WithTokenSource asks source for the bearer token of every call (rotating JWTs).
func WithTokenSource(source TokenSource) grpc.DialOption {
	return credentialOption{kind: "WithTokenSource", source: source, empty: source == nil}
}

// WithTLS connects over TLS with the CA bundle and client certificate files of config. Dial reads
// them and fails when one cannot be read.
func WithTLS(config TLSConfig) grpc.DialOption {
	return transportOption{files: &config}
}

// WithTLSConfig connects over TLS with a crypto/tls configuration, used as it is.
func WithTLSConfig(config *tls.Config) grpc.DialOption {
	return transportOption{config: config}
}

// WithPlaintext chooses plaintext explicitly. Plaintext is the default, but credentials then go only
// to a loopback address; with WithPlaintext they go unencrypted to any address (behind a mesh that
// encrypts the hop, say).
func WithPlaintext() grpc.DialOption {
	return transportOption{plaintext: true}
}

// The options above are grpc.DialOptions, so Dial keeps taking any grpc.DialOption beside them. They
// do nothing to gRPC's own settings (grpc.EmptyDialOption): Dial picks them out and builds the
// transport and per-call credentials from them together, since whether a secret may travel in
// plaintext depends on both.
type credentialOption struct {
	grpc.EmptyDialOption
	kind   string
	source TokenSource
	empty  bool
}

type transportOption struct {
	grpc.EmptyDialOption
	files     *TLSConfig
	config    *tls.Config
	plaintext bool
}

// connection is what Dial's sluice options add up to.
type connection struct {
	credential *credentialOption
	transport  *transportOption
}

// splitOptions separates the sluice options from the other grpc.DialOptions.
func splitOptions(options []grpc.DialOption) (connection, []grpc.DialOption, error) {
	var c connection
	var rest []grpc.DialOption
	for _, option := range options {
		switch o := option.(type) {
		case credentialOption:
			if o.empty {
				continue
			}
			if c.credential != nil {
				return c, nil, &ArgumentError{Field: "options", Description: fmt.Sprintf("%s cannot be used together with %s: give one credential", o.kind, c.credential.kind), Reason: "INVALID_ARGUMENT"}
			}
			c.credential = &o
		case transportOption:
			if c.transport != nil {
				return c, nil, &ArgumentError{Field: "options", Description: "give one of WithTLS, WithTLSConfig and WithPlaintext", Reason: "INVALID_ARGUMENT"}
			}
			c.transport = &o
		default:
			rest = append(rest, option)
		}
	}
	return c, rest, nil
}

// dialOptions are the transport and per-call credentials of c for address.
func (c connection) dialOptions(address string) ([]grpc.DialOption, error) {
	transport := insecure.NewCredentials()
	secure := c.transport != nil && !c.transport.plaintext
	if secure {
		config, err := c.transport.tlsConfig()
		if err != nil {
			return nil, err
		}
		transport = credentials.NewTLS(config)
	}
	options := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if c.credential != nil {
		// gRPC refuses credentials that require transport security on a plaintext connection: they
		// may go in plaintext to this machine, or anywhere when plaintext was chosen explicitly.
		plaintextAllowed := (c.transport != nil && c.transport.plaintext) || (c.transport == nil && IsLoopbackAddress(address))
		options = append(options, grpc.WithPerRPCCredentials(bearer{source: c.credential.source, requireTLS: !plaintextAllowed}))
	}
	return options, nil
}

func (t transportOption) tlsConfig() (*tls.Config, error) {
	if t.config != nil {
		return t.config, nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.files.ServerName}
	if t.files.CAFile != "" {
		pem, err := os.ReadFile(t.files.CAFile)
		if err != nil {
			return nil, &ArgumentError{Field: "CAFile", Description: "cannot be read: " + err.Error(), Reason: "INVALID_ARGUMENT"}
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &ArgumentError{Field: "CAFile", Description: "holds no PEM certificate: " + t.files.CAFile, Reason: "INVALID_ARGUMENT"}
		}
	}
	if (t.files.CertFile == "") != (t.files.KeyFile == "") {
		return nil, &ArgumentError{Field: "KeyFile", Description: "and CertFile go together: a client certificate needs its key", Reason: "INVALID_ARGUMENT"}
	}
	if t.files.CertFile != "" {
		certificate, err := tls.LoadX509KeyPair(t.files.CertFile, t.files.KeyFile)
		if err != nil {
			return nil, &ArgumentError{Field: "CertFile", Description: "cannot be loaded with its key: " + err.Error(), Reason: "INVALID_ARGUMENT"}
		}
		config.Certificates = []tls.Certificate{certificate}
	}
	return config, nil
}

// bearer is the per-call credentials of an API key or a token.
type bearer struct {
	source     TokenSource
	requireTLS bool
}

func (b bearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	token, err := b.source(ctx)
	if err != nil {
		// A plain error becomes UNAUTHENTICATED in gRPC; a status error keeps its code.
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("sluice: the token source returned an empty token")
	}
	return map[string]string{"authorization": "Bearer " + token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }

func staticToken(token string) TokenSource {
	return func(context.Context) (string, error) { return token, nil }
}

// IsLoopbackAddress reports whether address ("host:port", "[::1]:port", "dns:///host:port",
// "unix:path") names this machine: localhost, 127.0.0.0/8, ::1, or a Unix socket.
func IsLoopbackAddress(address string) bool {
	target := strings.ToLower(strings.TrimSpace(address))
	if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return true
	}
	for _, scheme := range []string{"ipv4:", "ipv6:"} {
		target = strings.TrimPrefix(target, scheme)
	}
	if strings.HasPrefix(target, "dns:") {
		target = strings.TrimPrefix(target, "dns:")
		if strings.HasPrefix(target, "//") {
			if slash := strings.Index(target[2:], "/"); slash >= 0 {
				target = target[2+slash+1:]
			}
		}
	}
	host := target
	if h, _, err := net.SplitHostPort(target); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
