package engine

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// diskFull is a store whose writes fail as a full disk does: with the
// path of its file.
type diskFull struct{ *store.Memory }

const walPath = "/var/lib/flowgen/store/wal/00000001.seg"

func (diskFull) Emit(context.Context, runtime.Event) error {
	return &os.PathError{Op: "write", Path: walPath, Err: syscall.ENOSPC}
}

func (diskFull) RequestAbort(context.Context, string) error {
	return &os.PathError{Op: "write", Path: walPath, Err: syscall.ENOSPC}
}

// A 500 says the server failed, not how: the store's error names its
// files, which the log has (with the request), not the answer. Before,
// a start answered "runtime: sink: event 1 (...): write
// /var/lib/flowgen/store/wal/00000001.seg: no space left on device".
func TestServerErrorsKeepTheirDetailsInTheLog(t *testing.T) {
	fx := newFixture(t)
	fx.st = diskFull{store.NewMemory()}
	var logs logtest.Buffer
	fx.log = slog.New(slog.NewTextHandler(&logs, nil))
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	status, out := c.do("POST", "/flows/Signup/runs", `{"Customer": {"Email": "bob"}}`)
	if msg := mustString(t, out); status != 500 || strings.Contains(msg, walPath) || strings.Contains(msg, "no space") ||
		!strings.Contains(msg, "POST /flows/Signup/runs failed inside the server") {
		t.Errorf("start on a full disk: %d %v, want 500 without the store's error", status, out)
	}
	if !strings.Contains(logs.String(), walPath) || !strings.Contains(logs.String(), "path=/flows/Signup/runs") {
		t.Errorf("the log lacks the store's error with the request:\n%s", logs.String())
	}
}
