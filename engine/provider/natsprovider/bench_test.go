package natsprovider

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/natstest"
)

// BenchmarkCallProvider measures a call of a provider's no-op step over
// NATS through the engine's Transport (its own reply subscription per call,
// the request asking for progress notices, the replica's first notice at
// once, then its answer) against the same call as a plain NATS request
// without the notices (RequestMsgWithContext, what the Transport did before
// notices, and what Serve answers with no notice), interleaved in blocks in
// the same run, on an embedded server over loopback. x-request is the
// Transport's time over the plain request's.
//
// Run: go test -run '^$' -bench CallProvider -benchtime 300x -count 3 ./engine/provider/natsprovider/
func BenchmarkCallProvider(b *testing.B) {
	url := natstest.URL(b)
	server, client := natstest.Connect(b, url), natstest.Connect(b, url)
	var l leases
	eng := l.server(b)
	defer eng.Close()
	p := provider.New(provider.Options{Name: "bench", Engine: eng.URL, TTL: time.Minute})
	p.Step("B.Noop", func(context.Context, *provider.Call) (string, error) { return "ok", nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, p, "bench", server) }()
	defer func() { cancel(); <-done }()
	subject := Subject("bench", provider.Handler{Name: "B.Noop"})
	body, err := json.Marshal(provider.Request{Version: provider.Version, Handler: "B.Noop", State: json.RawMessage(`{}`)})
	if err != nil {
		b.Fatal(err)
	}
	tr := NewTransport(client)
	// The subscription is made before the lease is granted: wait for the
	// first answer.
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := tr.CallProvider(context.Background(), subject, body); err == nil {
			break
		} else if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	transport := func() {
		if _, err := tr.CallProvider(context.Background(), subject, body); err != nil {
			b.Fatal(err)
		}
	}
	request := func() {
		msg := nats.NewMsg(subject)
		msg.Data = body
		http.Header(msg.Header).Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") // as the Transport's, traced
		if _, err := client.RequestMsgWithContext(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
	const block = 64
	var tDur, rDur time.Duration
	for b.Loop() {
		start := time.Now()
		for range block {
			transport()
		}
		mid := time.Now()
		for range block {
			request()
		}
		tDur += mid.Sub(start)
		rDur += time.Since(mid)
	}
	b.ReportMetric(float64(tDur)/float64(b.N*block), "ns/op")
	b.ReportMetric(float64(rDur)/float64(b.N*block), "request-ns/op")
	b.ReportMetric(float64(tDur)/float64(rDur), "x-request")
}
