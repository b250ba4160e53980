package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func framed(payloads ...string) []byte {
	var out bytes.Buffer
	for _, p := range payloads {
		binary.Write(&out, binary.BigEndian, uint32(len(p)))
		out.WriteString(p)
	}
	return out.Bytes()
}

func TestReadPayloads(t *testing.T) {
	payloads, err := readPayloads(bytes.NewReader(framed("ab", "", "cde")))
	if err != nil || len(payloads) != 3 || string(payloads[0]) != "ab" || len(payloads[1]) != 0 || string(payloads[2]) != "cde" {
		t.Fatalf("got %q, %v", payloads, err)
	}
	for name, file := range map[string][]byte{
		"empty":            {},
		"short length":     {0, 0},
		"truncated record": framed("abcdef")[:6],
	} {
		if _, err := readPayloads(bytes.NewReader(file)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// rawFrame is a message of the test server's codec: the request's bytes as they came.
type rawFrame []byte

// serve starts a server on a free port whose every method answers with `answer`, recording the
// requests it saw.
func serve(t *testing.T, answer func(ctx context.Context, request []byte) error) (string, func() [][]byte) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen [][]byte
	server := grpc.NewServer(grpc.ForceServerCodecV2(rawCodecServer{}), grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var request rawFrame
		if err := stream.RecvMsg(&request); err != nil {
			return err
		}
		mu.Lock()
		seen = append(seen, request)
		mu.Unlock()
		if err := answer(stream.Context(), request); err != nil {
			return err
		}
		answerFrame := rawFrame("ok")
		return stream.SendMsg(&answerFrame)
	}))
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	return listener.Addr().String(), func() [][]byte { mu.Lock(); defer mu.Unlock(); return seen }
}

func dial(t *testing.T, address string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestRunSendsThePayloadsRoundRobinWithTheHeaders(t *testing.T) {
	var sawHeader atomic.Int64
	address, seen := serve(t, func(ctx context.Context, _ []byte) error {
		if values := metadata.ValueFromIncomingContext(ctx, "x-api-key"); len(values) == 1 && values[0] == "k1" {
			sawHeader.Add(1)
		}
		return nil
	})
	conn := dial(t, address)
	callCtx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("x-api-key", "k1"))
	// One call first, so the run's window does not start with the connection's setup.
	var answerBytes int
	if err := conn.Invoke(callCtx, "/test.Echo/Call", []byte("warm"), &answerBytes, grpc.ForceCodecV2(rawCodec{})); err != nil {
		t.Fatal(err)
	}
	warm := int64(len(seen()))
	calls, err := run(callCtx, conn, "/test.Echo/Call", [][]byte{[]byte("a"), []byte("b")}, 4, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	requests := seen()[warm:]
	if sawHeader.Load() != warm+calls {
		t.Fatalf("%d of %d calls carried the header", sawHeader.Load(), warm+calls)
	}
	if calls < 4 || int64(len(requests)) != calls {
		t.Fatalf("%d calls counted, %d seen by the server", calls, len(requests))
	}
	counts := map[string]int{}
	for _, r := range requests {
		counts[string(r)]++
	}
	if len(counts) != 2 || counts["a"]-counts["b"] > 4 || counts["b"]-counts["a"] > 4 {
		t.Fatalf("payloads not round robin: %v", counts)
	}
}

func TestRunEndsAtTheFirstFailure(t *testing.T) {
	address, _ := serve(t, func(_ context.Context, request []byte) error {
		if string(request) == "bad" {
			return status.Error(codes.InvalidArgument, "refused")
		}
		return nil
	})
	started := time.Now()
	_, err := run(context.Background(), dial(t, address), "/test.Echo/Call", [][]byte{[]byte("good"), []byte("bad")}, 2, 10*time.Second)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v", err)
	}
	if time.Since(started) > 5*time.Second {
		t.Fatal("the run went on after a failure")
	}
}

// rawCodecServer is the test server's side of rawCodec: requests kept whole, answers sent as they are.
type rawCodecServer struct{}

func (rawCodecServer) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*(v.(*rawFrame)))}, nil
}

func (rawCodecServer) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*rawFrame)) = data.Materialize()
	return nil
}

func (rawCodecServer) Name() string { return "proto" }

func TestHeaderFlag(t *testing.T) {
	headers := metadata.MD{}
	add := headerFlag(headers)
	for _, text := range []string{"x-api-key=k1", "authorization=Bearer a=b", "x-api-key=k2"} {
		if err := add(text); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
	}
	if got := headers.Get("x-api-key"); len(got) != 2 || got[0] != "k1" || got[1] != "k2" {
		t.Fatalf("x-api-key: %q", got)
	}
	if got := headers.Get("authorization"); len(got) != 1 || got[0] != "Bearer a=b" {
		t.Fatalf("authorization: %q", got)
	}
	for _, text := range []string{"novalue", "=value"} {
		if err := add(text); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}
