package engine

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/internal/conntest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A run whose rpc step cannot reach its service fails with an error that
// names the service and the endpoint: GET /runs/{id} and its history,
// which a client reads, do not show the service's address; the server's
// log does.
func TestRPCErrorShowsNoAddress(t *testing.T) {
	addr := conntest.ClosedPort(t)
	var logs bytes.Buffer
	e, err := New(Options{Store: store.NewMemory(),
		Caller: httpcall.New(httpcall.Static{"customers": "http://" + addr + "/rpc"}, httpcall.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"version": 1, "flows": [{"name": "F", "triggers": [{"kind": "rpc", "endpoint": "F.Start"}], "steps": [
	  {"name": "A", "action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Create"}, "retry": {"attempts": 1}, "irreversible": true}]}]}`
	if ds, err := e.LoadFlows("f.json", []byte(doc)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(t.Context())
	c := apiClient{t, httptestServer(t, e)}
	status, out := c.do("POST", "/rpc/F.Start", `{}`)
	if status != 201 {
		t.Fatalf("start: %d %v", status, out)
	}
	id := out["run_id"].(string)
	waitFor(t, "the run to fail", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.State == runtime.StateFailed
	})
	_, st := c.do("GET", "/runs/"+id, "")
	_, h := c.do("GET", "/runs/"+id+"/history", "")
	shown := fmt.Sprint(st, h)
	if !strings.Contains(shown, "customers Customer.Create: connection refused") {
		t.Errorf("the run's status and history do not say the call was refused:\n%s", shown)
	}
	if strings.Contains(shown, addr) {
		t.Errorf("the run's status or history shows the service's address %s:\n%s", addr, shown)
	}
	if !strings.Contains(logs.String(), addr) {
		t.Errorf("the log lacks the service's address %s:\n%s", addr, logs.String())
	}
}
