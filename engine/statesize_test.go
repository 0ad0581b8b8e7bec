package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A state as large as a provider may answer stays that large: the engine
// records it, and sends it to the next provider, as the bytes that came,
// and does not escape <, > and & as \u003c (six bytes for one), which
// made a state of a few MiB of HTML a call larger than any provider
// takes (provider.MaxCallBytes: 413, the step failed for good). Reserve
// answers 3 MiB of "<"; Check, served as engine/provider's server bounds
// a call, gets it, and the run completes.
func TestProviderStateKeepsItsSize(t *testing.T) {
	html := strings.Repeat("<", 3<<20)
	var mu sync.Mutex
	var sizes []int
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, provider.MaxCallBytes))
		mu.Lock()
		sizes = append(sizes, len(body))
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/reserve") {
			_, _ = w.Write([]byte(`{"state": {"Page": "` + html + `"}}`))
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer prov.Close()
	_, e, srv := remoteFixture(t, ProviderOptions{})
	// Bill's steps without Bill's 5 s timeout, and a lease of the longest
	// TTL: under -race on a loaded machine, coding 3 MiB takes longer than
	// both, and the run failed or waited for the provider's renewal.
	big := strings.ReplaceAll(strings.Replace(billFlow, `"timeout": "5s",`, "", 1), `"Bill`, `"Big`)
	if strings.Contains(big, "timeout") {
		t.Fatalf("the test's flow has a timeout:\n%s", big)
	}
	if ds, err := e.LoadFlows("big.json", []byte(big)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	reg := `{"ttl": "10m", "handlers": [{"name": "Reserve", "url": "` + prov.URL + `/reserve"}, {"name": "Check", "outcomes": ["declined"], "url": "` + prov.URL + `/check"},
		{"name": "Release", "rollback": true, "url": "` + prov.URL + `/release"}]}`
	if status, out := putProvider(t, srv, "billing", reg); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	st := runToEnd(t, e, "Big")
	mu.Lock()
	defer mu.Unlock()
	if st.State != runtime.StateDone {
		t.Fatalf("run %s (%s), call bodies %v bytes; want done", st.State, st.Err, sizes)
	}
	if n := len(st.Snapshot); n > len(html)+1024 {
		t.Errorf("the run's state is %d bytes for an answer of %d", n, len(html))
	}
}

// A generated flow's initial state, as a start with an Executor sends it
// and as a start is compared with the run its idempotency key names, is
// encoded as the runtime encodes a run's snapshot: <, > and & as they
// came, not \u003c.
func TestInitialStateAsSnapshot(t *testing.T) {
	e := startGenEngine(t, Options{Store: store.NewMemory(), Broker: NewMemoryBroker()}, &ledger{}, 0)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	fe, err := e.lookup("GenOrder")
	if err != nil {
		t.Fatal(err)
	}
	got, err := fe.ops.initialState(json.RawMessage(`{"order_id": "<a&b>"}`))
	if err != nil || !strings.Contains(string(got), `"order_id":"<a&b>"`) {
		t.Errorf("initial state %s, %v; want order_id as it came", got, err)
	}
}
