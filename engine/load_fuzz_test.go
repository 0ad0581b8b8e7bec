package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgen/flowgen/runtime/store"
)

// FuzzLoadFlows feeds arbitrary documents to LoadFlows, the engine's loader
// of what PUT /flows and the flows directory bring: it must not panic,
// every diagnostic names the document and a place inside it, and a refused
// document registers nothing and writes nothing into Options.FlowsDir.
//
//	go test ./engine -run '^$' -fuzz FuzzLoadFlows -fuzztime 5m
func FuzzLoadFlows(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/engine/*/*.json")
	more, _ := filepath.Glob("../testdata/engine/*.json")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		e, err := New(Options{Store: store.NewMemory(), FlowsDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		e.Provide(signupHandlers(&ledger{}))
		ds, err := e.LoadFlows("fuzz.json", data)
		for _, d := range ds {
			if !d.Range.Start.IsValid() || d.Range.Start.File != "fuzz.json" || d.Code == "" || d.Message == "" ||
				d.Range.Start.Offset > len(data) || d.Range.End.Offset > len(data) {
				t.Fatalf("bad diagnostic %+v", d)
			}
		}
		if err == nil {
			return
		}
		if n := len(e.Flows()); n != 0 {
			t.Fatalf("refused (%v), yet %d flows registered", err, n)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("refused (%v), yet %s holds %v", err, dir, left)
		}
	})
}
