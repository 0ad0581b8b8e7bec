package cli

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime/store"
)

// Two serves started together on a store directory that does not exist
// yet both find it new; the one that opens it second is refused (in use),
// and its failed start must leave the directory alone: the other process
// made it and serves from it. Before, the refused start removed "the store
// it made", which was the other's, under it.
func TestServeStoreInUseRemovesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a serve process")
	}
	dir := filepath.Join(t.TempDir(), "store")
	var other *serveProc
	beforeStoreOpen = func() { other = startServeProc(t, "-store", dir) }
	defer func() { beforeStoreOpen = func() {} }()
	logs := &logtest.Buffer{}
	err := serve(context.Background(), serveConfig{store: dir, id: "t", stderr: logs, net: listen.Config{Addr: "127.0.0.1:0"}}, nil)
	if !errors.Is(err, store.ErrInUse) {
		t.Fatalf("serve on a store another process opened first: %v, want store.ErrInUse\n%s", err, logs.String())
	}
	if ok, err := store.Exists(dir); err != nil || !ok {
		t.Fatalf("the other process's store after the refused start: exists %v, %v; want it kept", ok, err)
	}
	res, err := http.Get(other.url + "/flows")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the other process after the refused start: GET /flows %d", res.StatusCode)
	}
}
