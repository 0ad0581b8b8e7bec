package parser

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input makes Parse panic (Parse recovers, so an "internal"
// diagnostic is the sign of one), every diagnostic has a position that
// exists in the input, and every accepted input formats idempotently,
// keeping its comments. Seeds: the shared corpus, good and bad, and the fmt
// goldens.
//
//	go test ./parser -run '^$' -fuzz FuzzParse -fuzztime 5m
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{
		filepath.Join("..", "testdata", "flows", "*", "*.flow"),
		filepath.Join("testdata", "fmt", "*", "*.flow"),
	} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Add([]byte("flow A { step B { rpc s \"e\" (X) -> Y // c\n} } // d"))
	f.Add([]byte("flow A { retry 3 backoff 1s..2s multiplier 1.5 jitter none }"))
	f.Add([]byte("flow A { parallel P { step B { writes X, Y } step C { rpc s \"e\" -> Z } on ok -> done } parallel Q {} }"))
	f.Add([]byte("flow A { step B { choose { when X == \"a\" and not (Y >= -1.5 or Z < 1h) -> B otherwise -> done } } }"))
	f.Add([]byte("flow A { step B { call C (X) -> Y rollback call D (Y) } } flow C { step E { call A } }"))
	f.Add([]byte("\uFEFFflow A {\n    step B { on ok -> }\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, diags := Parse("fuzz.flow", src)
		if file == nil {
			t.Fatal("nil File")
		}
		for _, d := range diags {
			if d.Code == "internal" {
				t.Fatalf("parser panicked: %s", d.Message)
			}
			if d.Range.Start.File != "fuzz.flow" {
				t.Fatalf("%v: wrong file", d)
			}
			checkPos(t, src, d.Range.Start)
			if d.Range.End.Line != 0 {
				checkPos(t, src, d.Range.End)
			}
		}
		if len(diags) == 0 {
			checkFormat(t, "fuzz.flow", src)
		}
	})
}
