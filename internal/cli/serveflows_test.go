package cli

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// A start without -flows that fails once it has made the store's flows
// directory (the address taken) removes the new store whole, that
// directory too: nothing is left that looks like a service's data.
func TestServeFailedStartRemovesTheStoresFlowsDir(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "s")
	var outb, errb bytes.Buffer
	if code := Main([]string{"serve", "-store", dir, "-addr", ln.Addr().String()}, nil, &outb, &errb); code != 1 {
		t.Fatalf("serve on a taken address: exit %d, want 1\n%s", code, errb.String())
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		ents, _ := os.ReadDir(dir)
		t.Fatalf("the failed start left its store behind: %v %v", err, ents)
	}
}
