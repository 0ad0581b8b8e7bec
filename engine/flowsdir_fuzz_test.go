package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzRecoverDir feeds arbitrary journals to recoverDir, which a start
// runs on whatever a crash (or a hand, or a disk) left in the flows
// directory: it must not panic, must touch nothing outside the
// directory, and either refuses the journal, leaving it and the
// directory's files as they were, or makes the change it holds and
// removes it.
//
//	go test ./engine -run '^$' -fuzz FuzzRecoverDir -fuzztime 2m
func FuzzRecoverDir(f *testing.F) {
	for _, ch := range []dirChange{
		{"A.json": []byte(`{"flows":[]}`), "B.json": nil},
		{"../escape.json": []byte("x")},
		{"sub/A.json": []byte("x")},
		{"": []byte("x")},
		{".": nil},
		{"..": nil},
		{FlowsJournal: []byte("{}")},
		{"kept.json": nil},
	} {
		b, _ := json.Marshal(ch)
		f.Add(b)
	}
	f.Add([]byte(`{"A.json":"e30="`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, journal []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "flows")
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kept.json"), []byte("kept"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, FlowsJournal), journal, 0o600); err != nil {
			t.Fatal(err)
		}
		err := recoverDir(dir)
		outside, _ := os.ReadDir(root)
		if len(outside) != 1 || outside[0].Name() != "flows" {
			t.Fatalf("recoverDir wrote beside the flows directory: %v", outside)
		}
		if sub, _ := os.ReadDir(filepath.Join(dir, "sub")); len(sub) != 0 {
			t.Fatalf("recoverDir wrote into a subdirectory: %v", sub)
		}
		files := dirFiles(t, dir)
		if err != nil {
			kept, _ := os.ReadFile(filepath.Join(dir, "kept.json"))
			left, _ := os.ReadFile(filepath.Join(dir, FlowsJournal))
			if string(kept) != "kept" || string(left) != string(journal) {
				t.Fatalf("refused (%v), yet the directory changed: %v", err, files)
			}
			return
		}
		if slices.Contains(files, FlowsJournal) {
			t.Fatalf("recovered, yet the journal is left: %v", files)
		}
	})
}
