//go:build unix

package cli

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeStopsWhenStoreFails: a write of the store that fails (here a
// file size limit, EFBIG, as a full disk gives ENOSPC) leaves the store
// refusing every write until it is reopened. serve must then stop, exit 1
// and say why, rather than stay up answering every start 500 for good;
// started again on the same store, every run it answered 201 is there.
func TestServeStopsWhenStoreFails(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to set the file size limit")
	}
	dir := t.TempDir()
	st, flows := filepath.Join(dir, "store"), filepath.Join(dir, "flows")
	// ulimit -f counts blocks of 512 bytes (POSIX sh): 512 KiB per file.
	// Go ignores SIGXFSZ, so a write past the limit fails with EFBIG.
	p := startServeCmd(t, exec.Command("sh", "-c", `ulimit -f 1024 && exec "$0" "$@"`,
		os.Args[0], "serve", "-addr", "127.0.0.1:0", "-store", st, "-flows", flows))
	const hold = `{"version": 1, "flows": [{"name": "Hold", "state": "S",
  "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}],
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "t", "event": "e", "response": "P", "timeout": "100h"}, "irreversible": true}]}]}`
	if code, out := call(t, "PUT", p.url+"/flows", hold); code != http.StatusOK {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	body := `{"Pad": "` + strings.Repeat("x", 100<<10) + `"}`
	var acked []string
	for i := 0; ; i++ {
		if i == 20 { // 2 MiB of states: far past the limit
			t.Fatalf("every start answered 201 past the file size limit:\n%s", p.logs.String())
		}
		id := "h" + string(rune('a'+i))
		code := postJSON(http.DefaultClient, p.url+"/flows/Hold/runs?run_id="+id, "", body)
		if code == http.StatusCreated {
			acked = append(acked, id)
			continue
		}
		if code != http.StatusInternalServerError && code != 0 {
			t.Fatalf("start %s: %d, want 201, or 500 once the store failed", id, code)
		}
		break
	}
	exited := make(chan error, 1)
	go func() { <-p.done; exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("serve ended with %v, want exit status 1", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve still serves a minute after its store failed:\n%s", p.logs.String())
	}
	if log := p.logs.String(); !strings.Contains(log, "the store failed") || !strings.Contains(log, "file too large") {
		t.Fatalf("serve's log does not say the store failed, and why:\n%s", log)
	}
	// Started again without the limit: every acknowledged run is there.
	q := startServeProc(t, "-store", st, "-flows", flows)
	for _, id := range acked {
		res, err := http.Get(q.url + "/runs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("run %s, answered 201 before the store failed: GET %d after the restart", id, res.StatusCode)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no start was answered 201 before the store failed: the limit is too low to test anything")
	}
}
