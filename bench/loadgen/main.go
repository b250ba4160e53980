// Command loadgen keeps a fixed number of unary gRPC calls in flight against one method for a
// while and prints what it measured as one JSON object: the load generator of the serving
// benchmark (bench/serving.ts) beside its Node one.
//
// The requests are raw bytes, read from a file of length-prefixed payloads (a 4-byte big-endian
// length, then the bytes) and sent round robin, with the -header metadata and no deadline (as the
// Node generator sends them); answers are counted, not decoded. It runs on one OS thread at a time
// by default (-procs 1), like a Node client, and prints its own CPU per call: the benchmark runs on
// the same two cores as the server, and grpc-go spends a fraction of what grpc-js does per call.
//
//	loadgen -address 127.0.0.1:50051 -method /sluice.v1.InferenceService/Predict \
//	    -payloads requests.bin -concurrency 64 -duration 4s -header x-api-key=...
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
)

// Result is what one run measured, printed as JSON.
type Result struct {
	Concurrency      int     `json:"concurrency"`
	Calls            int64   `json:"calls"`
	Seconds          float64 `json:"seconds"`
	CallsPerSecond   float64 `json:"callsPerSecond"`
	CPUMicrosPerCall float64 `json:"cpuMicrosPerCall"`
}

// rawCodec sends a request's bytes as they are and keeps only an answer's length: neither side of
// the call pays for protobuf in the generator, as in the Node generator (bench/floors.ts rawUnary).
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*int)) = data.Len()
	return nil
}

// Name is "proto": the content type the server expects (application/grpc+proto).
func (rawCodec) Name() string { return "proto" }

// readPayloads reads a file of length-prefixed payloads.
func readPayloads(r io.Reader) ([][]byte, error) {
	var payloads [][]byte
	for {
		var size uint32
		if err := binary.Read(r, binary.BigEndian, &size); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("payload %d: reading its length: %w", len(payloads), err)
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, fmt.Errorf("payload %d: %d bytes announced: %w", len(payloads), size, err)
		}
		payloads = append(payloads, payload)
	}
	if len(payloads) == 0 {
		return nil, errors.New("no payloads")
	}
	return payloads, nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() (time.Duration, error) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()), nil
}

// stallTimeout is how long past its end a run may wait for its last answers: a server that stops
// answering fails the generator instead of hanging the benchmark.
const stallTimeout = 30 * time.Second

// run keeps `concurrency` calls in flight for `duration`, and returns the calls answered and the
// first failure, which ends the run (a generator that sees errors has no throughput to report).
// Calls carry `callCtx` (its metadata, no deadline), not the run's context, whose end must not fail
// the calls still in flight.
func run(callCtx context.Context, conn *grpc.ClientConn, method string, payloads [][]byte, concurrency int, duration time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var calls, next atomic.Int64
	var failure error
	var once sync.Once
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var answerBytes int
			for ctx.Err() == nil {
				payload := payloads[next.Add(1)%int64(len(payloads))]
				err := conn.Invoke(callCtx, method, payload, &answerBytes, grpc.ForceCodecV2(rawCodec{}))
				if err != nil {
					once.Do(func() { failure = err; cancel() })
					return
				}
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	return calls.Load(), failure
}

// headerFlag adds each -header name=value to `headers`.
func headerFlag(headers metadata.MD) func(string) error {
	return func(text string) error {
		name, value, found := strings.Cut(text, "=")
		if !found || name == "" {
			return fmt.Errorf("%q: want name=value", text)
		}
		headers.Append(name, value)
		return nil
	}
}

func main() {
	address := flag.String("address", "", "the server's host:port")
	method := flag.String("method", "", "the full method, /package.Service/Method")
	payloadFile := flag.String("payloads", "", "a file of length-prefixed request payloads")
	concurrency := flag.Int("concurrency", 64, "calls kept in flight")
	duration := flag.Duration("duration", 4*time.Second, "how long to measure")
	warmup := flag.Duration("warmup", 500*time.Millisecond, "how long to call before measuring")
	procs := flag.Int("procs", 1, "OS threads running Go code at once (GOMAXPROCS)")
	headers := metadata.MD{}
	flag.Func("header", "name=value metadata sent with every call (repeatable)", headerFlag(headers))
	flag.Parse()
	if *address == "" || *method == "" || *payloadFile == "" || *concurrency < 1 || *duration <= 0 || *procs < 1 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*procs)
	// A watchdog rather than call deadlines: a deadline would send grpc-timeout, which the Node
	// generator does not, and the server would do a timer's work per call for one generator only.
	time.AfterFunc(*warmup+*duration+stallTimeout, func() {
		fmt.Fprintf(os.Stderr, "loadgen: calls still unanswered %s after the run's end\n", stallTimeout)
		os.Exit(1)
	})
	callCtx := metadata.NewOutgoingContext(context.Background(), headers)
	if err := measure(callCtx, *address, *method, *payloadFile, *concurrency, *duration, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func measure(callCtx context.Context, address, method, payloadFile string, concurrency int, duration, warmup time.Duration) error {
	file, err := os.Open(payloadFile)
	if err != nil {
		return err
	}
	payloads, err := readPayloads(file)
	file.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", payloadFile, err)
	}
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	if warmup > 0 {
		if _, err := run(callCtx, conn, method, payloads, concurrency, warmup); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	cpuBefore, err := cpuTime()
	if err != nil {
		return err
	}
	started := time.Now()
	calls, err := run(callCtx, conn, method, payloads, concurrency, duration)
	if err != nil {
		return err
	}
	seconds := time.Since(started).Seconds()
	cpuAfter, err := cpuTime()
	if err != nil {
		return err
	}
	if calls == 0 {
		return fmt.Errorf("no call was answered in %s", duration)
	}
	return json.NewEncoder(os.Stdout).Encode(Result{
		Concurrency:      concurrency,
		Calls:            calls,
		Seconds:          seconds,
		CallsPerSecond:   float64(calls) / seconds,
		CPUMicrosPerCall: float64((cpuAfter - cpuBefore).Microseconds()) / float64(calls),
	})
}
