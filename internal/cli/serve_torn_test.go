//go:build unix

package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// TestServeSaysItCutATornTail: serve on a store whose log ends in a torn
// write logs what the open cut (segment, offset, bytes), as a warning:
// damage to the last records looks the same as a torn write and goes the
// same way, so the cut must never be silent. Before, nothing was said.
func TestServeSaysItCutATornTail(t *testing.T) {
	dir := t.TempDir()
	stDir, flows := filepath.Join(dir, "store"), filepath.Join(dir, "flows")
	st, err := store.Open(stDir, store.Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := store.Message{Topic: "t", Event: "e", ID: "1", Payload: []byte(`1`), Received: time.Now()}
	if _, _, err := st.PutMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	st.Close()
	seg, size := tearStore(t, stDir)
	p := startServeCmd(t, exec.Command(os.Args[0], "serve", "-addr", "127.0.0.1:0", "-store", stDir, "-flows", flows))
	logs := p.logs.String()
	for _, want := range []string{"level=WARN", "torn write, cut at open: a write never acknowledged, or damage to the last records that looks the same", "segment=" + seg, "bytes=20", "offset=" + strconv.FormatInt(size, 10)} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve's log lacks %q:\n%s", want, logs)
		}
	}
}
