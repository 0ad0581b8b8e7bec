package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
)

// A store whose acknowledged records were cut off (its last segment cut
// below the offset SYNCED names) is refused by every verb that opens it,
// and the error tells the operator what to do, as docs/store.md#crash-safety
// does: keep the directory as it is, restore a backup. It named only the
// damage ("records that were durable are missing"), and serve exited on it
// with nothing to go on.
func TestDamagedStoreSaysWhatToDo(t *testing.T) {
	dir, st := storeOfRuns(t, 3)
	st.Close()
	seg := filepath.Join(dir, "0000000000000001.seg")
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	const want = "the store is damaged and was left as it is: copy its directory as it is (cp -a) before anything else, then restore it from a backup (docs/store.md#crash-safety)"
	for _, args := range [][]string{{"runs", "-store", dir}, {"compact", "-store", dir}} {
		code, _, stderr := runCLI(args...)
		if code != 1 || !strings.Contains(stderr, "corrupt log") || !strings.Contains(stderr, want) {
			t.Errorf("flowgen %s: exit %d, stderr %q; want exit 1, the damage and %q", strings.Join(args, " "), code, stderr, want)
		}
	}
	logs := &logtest.Buffer{}
	err = serve(context.Background(), serveConfig{store: dir, stderr: logs, net: listen.Config{Addr: "127.0.0.1:0"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "corrupt log") || !strings.Contains(err.Error(), want) {
		t.Errorf("serve on the damaged store: %v; want the damage and %q\n%s", err, want, logs.String())
	}
	if fi2, err := os.Stat(seg); err != nil || fi2.Size() != fi.Size()-3 {
		t.Errorf("the segment after the refusals: %v, %v; want it as it was cut", fi2, err)
	}
}
