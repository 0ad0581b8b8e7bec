//go:build linux

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// peakRSS runs `flowgen args...` (this test binary as the command, as
// TestMain runs it) in a process of its own, its output thrown away, and
// returns the most memory it held (its peak resident set, in bytes).
func peakRSS(t *testing.T, args ...string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envCLIMain+"=1", "GOGC=50")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("flowgen %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
}

// TestHistoryVerbMemoryBounded: history reads a run's history a page at a
// time, so what it holds follows a page, not the history. A run holds up
// to 25,000 events, each with a state of up to megabytes: the table shows
// no state, and -json prints each page as it reads it; nor does the table
// show the payloads of the events that woke the run, and it holds none.
// Before, history read the whole history, every state, whichever it
// printed: the run below, 64 MiB of states, cost the command as much and
// more than the same run with small states; then the table still held
// every payload, 64 MiB for the run woken 32 times by 2 MiB events.
func TestHistoryVerbMemoryBounded(t *testing.T) {
	const events, stateBytes = 32, 2 << 20
	// Segments of 1 MiB (a record of 2 MiB is one of its own): Open reads
	// a segment whole as it scans the log, which the test leaves out.
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, run := range []struct {
		id  string
		pad int
	}{{"small", 1}, {"big", stateBytes}} {
		state := json.RawMessage(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", run.pad)))
		for seq := 1; seq <= events; seq++ {
			e := runtime.Event{RunID: run.id, Seq: uint64(seq), Time: t0.Add(time.Duration(seq) * time.Second), Flow: "F",
				Step: "S", From: "S:running", To: "S:running", Attempt: seq - 1, Outcome: "retry", Error: "not yet", State: state}
			if seq == 1 {
				e.From, e.Attempt, e.Outcome, e.Error = runtime.MachinePending, 0, "", ""
			}
			if err := st.Emit(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
	}
	// "woken": a run that waits and is woken events times, each time by
	// an event whose payload (recorded with the wake-up) is stateBytes.
	payload := json.RawMessage(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", stateBytes)))
	small := json.RawMessage(`{"pad":"x"}`)
	seq := uint64(0)
	emit := func(from, to string, p json.RawMessage) {
		seq++
		e := runtime.Event{RunID: "woken", Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second), Flow: "F",
			Step: "S", From: from, To: to, Payload: p, State: small}
		if err := st.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	emit(runtime.MachinePending, "S:waiting", nil)
	for range events {
		emit("S:waiting", "S:running", payload)
		emit("S:running", "S:waiting", nil)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	checkPagedJSON(t, events, func(i int) string { return fmt.Sprintf(`"seq":%d,`, i+1) }, "history", "-store", dir, "-json", "big")
	for _, big := range []string{"big", "woken"} {
		checkPeakBounded(t, "history of "+big, events*stateBytes, func(json bool, run string) []string {
			if run == "big" {
				run = big
			}
			if json {
				return []string{"history", "-store", dir, "-json", run}
			}
			return []string{"history", "-store", dir, run}
		})
	}
}

// checkPeakBounded runs `flowgen args(json, "small")...` and `flowgen
// args(json, "big")...`, with -json and without, and fails t if the big
// one, which reads total bytes more, held more than a third of them more
// (peakRSS): what it holds at once must follow a page, not what it reads.
func checkPeakBounded(t *testing.T, what string, total int64, args func(json bool, which string) []string) {
	t.Helper()
	for _, json := range []bool{false, true} {
		small, big := peakRSS(t, args(json, "small")...), peakRSS(t, args(json, "big")...)
		t.Logf("%s -json %v: peak %d MiB for the small one, %d MiB for %d MiB more", what, json, small>>20, big>>20, total>>20)
		if big-small > total/3 {
			t.Errorf("%s -json %v: reading %d MiB more held %d MiB more; want a page's worth", what, json, total>>20, (big-small)>>20)
		}
	}
}

// lineHeads is an io.Writer that keeps the first 200 bytes of each line
// written to it: what a test reads of output too large to hold.
type lineHeads struct {
	heads []string
	cur   []byte
	open  bool // a line is being written
}

func (w *lineHeads) Write(p []byte) (int, error) {
	for _, c := range p {
		if !w.open {
			w.heads, w.cur, w.open = append(w.heads, ""), w.cur[:0], true
		}
		if c == '\n' {
			w.open = false
			continue
		}
		if len(w.cur) < 200 {
			w.cur = append(w.cur, c)
			w.heads[len(w.heads)-1] = string(w.cur)
		}
	}
	return len(p), nil
}

// checkPagedJSON runs `flowgen args...` in this process and checks that
// it prints one line per item, each line's head matching want(i): every
// item once, in order, across the pages it read them in.
func checkPagedJSON(t *testing.T, n int, want func(i int) string, args ...string) {
	t.Helper()
	var out lineHeads
	var errOut bytes.Buffer
	if code := Main(args, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("flowgen %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	if len(out.heads) != n {
		t.Fatalf("flowgen %s: %d lines, want %d", strings.Join(args, " "), len(out.heads), n)
	}
	for i, h := range out.heads {
		if !strings.Contains(h, want(i)) {
			t.Fatalf("flowgen %s: line %d begins %q, want %s in it", strings.Join(args, " "), i+1, h, want(i))
		}
	}
}
