package cli

// kill -9 of `flowgen serve` under load while its Go steps and rollbacks
// are served by a remote provider process (serve_provider_test.go's
// providerMain): every acknowledged run ends as it would have without the
// kill, no step or rollback that completed before the kill is called
// again, and one that was in flight is called again under its idempotency
// key.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

func TestServeKill9RemoteProvidersUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve and provider processes")
	}
	const runs = 60
	dir := t.TempDir()
	storeDir, flowsDir := filepath.Join(dir, "store"), filepath.Join(dir, "flows")
	if err := os.MkdirAll(flowsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flowsDir, "Bill.json"), []byte(billFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "calls")
	srv := startServeProc(t, "-store", storeDir, "-flows", flowsDir)
	addr := strings.TrimPrefix(srv.url, "http://")
	startProvider(t, "http", srv.url, "billing", logFile)
	waitUntil(t, "the provider to register", func() bool {
		_, out := call(t, "GET", srv.url+"/providers", "")
		ps, _ := out["providers"].([]any)
		return len(ps) == 1
	})

	// Runs start from 8 clients at once; one in four is declined by Check
	// and rolls back Charge and Reserve through the provider. The server
	// dies at a random acknowledgement in the middle third.
	client := &http.Client{Timeout: 30 * time.Second}
	killAt := int64(runs/3 + rand.IntN(runs/3))
	var acked atomic.Int64
	var killed atomic.Bool
	var killTime time.Time
	ack := make([]atomic.Bool, runs)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < runs && !killed.Load(); i = int(next.Add(1)) - 1 {
				body := fmt.Sprintf(`{"Decline": %t}`, i%4 == 0)
				status := postJSON(client, fmt.Sprintf("%s/rpc/Bill.Start?run_id=bill-%d", srv.url, i), "", body)
				if status != 201 {
					if !killed.Load() {
						t.Errorf("start bill-%d: %d before the kill", i, status)
					}
					continue
				}
				ack[i].Store(true)
				if acked.Add(1) == killAt && killed.CompareAndSwap(false, true) {
					srv.kill9()
					killTime = time.Now()
				}
			}
		})
	}
	wg.Wait()
	if !killed.Load() {
		t.Fatalf("the load ended before the kill (%d acknowledged, kill at %d)", acked.Load(), killAt)
	}

	// The same address, so that the provider's renewals reach the new
	// process, which knows no lease: the provider registers again.
	srv = startServeProc(t, "-store", storeDir, "-flows", flowsDir, "-addr", addr)
	restarted := time.Now()
	want := func(i int) string {
		if i%4 == 0 {
			return "compensated"
		}
		return "done"
	}
	status := func(id string) string {
		_, st := call(t, "GET", srv.url+"/runs/"+id, "")
		s, _ := st["state"].(string)
		return s
	}
	for i := range runs {
		if !ack[i].Load() {
			continue
		}
		id := fmt.Sprintf("bill-%d", i)
		waitUntil(t, id+" to end "+want(i), func() bool { return status(id) == want(i) })
	}

	// Each action's calls by idempotency key, with the time of each.
	type callAt struct {
		handler string
		at      time.Time
	}
	byKey := map[string][]callAt{}
	for _, c := range calls(t, logFile) {
		if len(c) < 5 {
			t.Fatalf("provider log line %q has no time", strings.Join(c, " "))
		}
		ns, err := strconv.ParseInt(c[4], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		byKey[c[2]] = append(byKey[c[2]], callAt{c[1], time.Unix(0, ns)})
	}
	recalled, before := 0, 0
	for i := range runs {
		if !ack[i].Load() {
			continue
		}
		id := fmt.Sprintf("bill-%d", i)
		_, h := call(t, "GET", srv.url+"/runs/"+id+"/history", "")
		b, _ := json.Marshal(h["events"])
		var events []runtime.Event
		if err := json.Unmarshal(b, &events); err != nil {
			t.Fatal(err)
		}
		// What the history says completed, and when: a step leaves its
		// running phase, a rollback its rollback phase, without an error.
		completed := map[string]time.Time{}
		for _, e := range events {
			step, phase, _ := runtime.ParseMachineState(e.From)
			if e.Error != "" || e.Outcome == runtime.OutcomeRetry || step == "" {
				continue
			}
			switch phase {
			case runtime.PhaseRunning:
				completed[runtime.Key{RunID: id, Step: step, Visit: 1}.String()] = e.Time
			case runtime.PhaseRollback:
				completed[runtime.Key{RunID: id, Step: step, Visit: 1, Rollback: true}.String()] = e.Time
			}
		}
		wantKeys := []string{id + "/Reserve", id + "/Charge", id + "/Check"}
		if i%4 == 0 {
			wantKeys = append(wantKeys, id+"/Charge/rollback", id+"/Reserve/rollback")
		}
		for _, k := range wantKeys {
			at, ok := completed[k]
			if !ok {
				t.Errorf("%s: the history records no completion of %s: %s", id, k, b)
				continue
			}
			cs := byKey[k]
			if len(cs) == 0 {
				t.Errorf("%s: %s completed without a call to the provider", id, k)
				continue
			}
			if at.Before(killTime) { // completed and recorded by the killed server
				before++
				for _, c := range cs {
					if c.at.After(restarted) {
						t.Errorf("%s: %s completed before the kill (%s) and was called again after the restart (%s)",
							id, k, at.Format(time.RFC3339Nano), c.at.Format(time.RFC3339Nano))
					}
				}
			}
			if len(cs) > 1 {
				recalled++
			}
		}
		for k := range byKey {
			if strings.HasPrefix(k, id+"/") && !slices.Contains(wantKeys, k) {
				t.Errorf("%s: the provider was called with key %s, which no action of the run has", id, k)
			}
		}
	}
	t.Logf("%d runs acknowledged of %d, killed at the %dth; %d actions completed before the kill, %d called more than once (in flight at the kill)",
		acked.Load(), runs, killAt, before, recalled)
}
