package dsl

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// generatedFile returns a clean flow of n steps mixing every step kind, the
// way a large real flow would: rpc steps with rpc or Go rollbacks, awaits
// with timeouts, Go steps with declared outcomes and forward transitions,
// and publish steps.
func generatedFile(n int) *File {
	f := &Flow{
		Name:     "Big",
		State:    &Ident{Name: "BigState"},
		Retry:    &Retry{Attempts: 3, Initial: Duration(100 * time.Millisecond), Max: Duration(5 * time.Second)},
		Timeout:  Duration(10 * time.Second),
		Deadline: Duration(time.Hour),
		Triggers: []*Trigger{{Trigger: runtime.Trigger{Kind: TriggerSchedule, Schedule: "0 3 * * *"}}, {Trigger: runtime.Trigger{Kind: TriggerRPC, Endpoint: "Big.Start"}}},
	}
	name := func(i int) string { return fmt.Sprintf("S%05d", i) }
	for i := range n {
		s := &Step{Name: name(i)}
		switch i % 4 {
		case 0:
			s.Action = &Action{Kind: ActionRPC, Service: "svc", Endpoint: "Svc.Do", Request: &Ident{Name: "Req"}, Response: &Ident{Name: "Rsp"}}
			s.Rollback = &Rollback{Action: &Action{Kind: ActionRPC, Service: "svc", Endpoint: "Svc.Undo", Request: &Ident{Name: "Rsp"}}}
		case 1:
			s.Action = &Action{Kind: ActionAwait, Topic: "t", Event: "e", Response: &Ident{Name: "Payload"}, Correlate: &Ident{Name: "Key"}, Timeout: Duration(time.Minute)}
			s.Retry = &Retry{Attempts: 1}
			s.Transitions = []*Transition{{On: &Ident{Name: "timeout"}, Target: &Ident{Name: "fail"}}}
		case 2:
			s.Action = &Action{Kind: ActionGo}
			s.Rollback = &Rollback{Name: &Ident{Name: "Undo" + name(i)}}
			s.Outcomes = []*Ident{{Name: "approved"}, {Name: "rejected"}}
			next := TargetDone
			if i+2 < n {
				next = name(i + 2)
			}
			s.Transitions = []*Transition{{On: &Ident{Name: "approved"}, Target: &Ident{Name: next}}, {On: &Ident{Name: "rejected"}, Target: &Ident{Name: "fail"}}}
		case 3:
			s.Action = &Action{Kind: ActionPublish, Topic: "t", Event: "done", Request: &Ident{Name: "Rsp"}}
			s.Irreversible = true
		}
		f.Steps = append(f.Steps, s)
	}
	return &File{Version: FormatVersion, Name: "big.flow", Flows: []*Flow{f}}
}

// benchmarkGrowth checks a flow of n steps and, in the same loop, ten flows
// of n/10 steps: the reported growth ratio is 1 when Check is linear.
func benchmarkGrowth(b *testing.B, n int) {
	big, small := generatedFile(n), generatedFile(n/10)
	var tBig, tSmall time.Duration
	for b.Loop() {
		t0 := time.Now()
		Check(big, CheckOptions{})
		t1 := time.Now()
		for range 10 {
			Check(small, CheckOptions{})
		}
		tBig += t1.Sub(t0)
		tSmall += time.Since(t1)
	}
	b.ReportMetric(float64(tBig.Nanoseconds())/float64(b.N)/float64(n), "ns/step")
	b.ReportMetric(float64(tBig)/float64(tSmall), "growth")
}

// BenchmarkCheck1000 checks a 1,000-step flow; "growth" is its time over
// that of ten 100-step flows (1.0 = linear).
func BenchmarkCheck1000(b *testing.B) { benchmarkGrowth(b, 1000) }

// BenchmarkCheck10000 is the same at 10,000 steps against ten 1,000-step
// flows.
func BenchmarkCheck10000(b *testing.B) { benchmarkGrowth(b, 10000) }
