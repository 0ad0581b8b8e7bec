// Package otlptest is an OTLP/HTTP trace receiver for tests: the commands'
// tests point -otlp-traces at it and read back the spans they sent.
package otlptest

import (
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Collector keeps the spans posted to it (POST /v1/traces, protobuf), with
// the service.name of their resource. Requests in another form get 400.
type Collector struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service []string
}

func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP/HTTP protobuf trace export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		name := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				name = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				c.spans = append(c.spans, sp)
				c.service = append(c.service, name)
			}
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Spans returns the spans received so far and the service.name of each.
func (c *Collector) Spans() ([]*tracepb.Span, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...), append([]string(nil), c.service...)
}

// Children returns the spans of spans whose parent is the span with the
// hex ID parent.
func Children(spans []*tracepb.Span, parent string) []*tracepb.Span {
	var out []*tracepb.Span
	for _, sp := range spans {
		if hex.EncodeToString(sp.ParentSpanId) == parent {
			out = append(out, sp)
		}
	}
	return out
}

// ID is a span's ID in hex.
func ID(sp *tracepb.Span) string { return hex.EncodeToString(sp.SpanId) }

// TripFlow is a JSON flow whose runs start over HTTP (POST
// /flows/Trip/runs, state {"In": ...}) and call the service "svc" twice,
// Hotel.Book then Card.Pay: a trace with two service calls.
const TripFlow = `{"version": 1, "flows": [{"name": "Trip", "state": "T", "triggers": [{"kind": "rpc", "endpoint": "Trip.Start"}],
  "steps": [
    {"name": "Book", "action": {"kind": "rpc", "service": "svc", "endpoint": "Hotel.Book", "request": "In", "response": "A"}, "irreversible": true},
    {"name": "Pay", "action": {"kind": "rpc", "service": "svc", "endpoint": "Card.Pay", "request": "A", "response": "B"}, "irreversible": true}
  ]}]}`

// Service is the service of TripFlow: it answers every call with "ok" (or
// with Answer, a JSON value, when set) and keeps the traceparent header of
// each.
type Service struct {
	Answer  string
	mu      sync.Mutex
	parents []string
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.parents = append(s.parents, r.Header.Get("Traceparent"))
	s.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	answer := s.Answer
	if answer == "" {
		answer = `"ok"`
	}
	_, _ = io.WriteString(w, answer)
}

// Traceparents returns the traceparent of each call so far.
func (s *Service) Traceparents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.parents...)
}

// Send sends body (JSON) to url with method, as a caller in span
// callerSpan of trace traceID (its traceparent header, sampled), and
// returns the status code of the answer.
func Send(method, url, body, traceID, callerSpan string) (int, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	rsp.Body.Close()
	return rsp.StatusCode, nil
}
