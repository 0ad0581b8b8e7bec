package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowgen/flowgen/internal/snippet"
)

// FuzzJSONUnfit checks jsonUnfit, a hand-written one-pass scanner on
// every JSON the engine takes in, against unfitReference, a slow and
// obvious reading of the rule in docs/engine.md ("JSON the engine takes
// in") built from encoding/json's tokens: on any document json.Valid
// takes, both must refuse it for the same reason, at the same place.
func FuzzJSONUnfit(f *testing.F) {
	for _, c := range jsonUnfitCases {
		f.Add([]byte(c.doc))
	}
	for _, c := range jsonDepthCases {
		f.Add([]byte(c.doc))
	}
	for _, s := range []string{
		` [1e-999, -0.0e-400, 4.9e-324, 2.5e-324, 2e-324]`, // underflow reads as 0: taken
		`{"a":[{"b":-1.7976931348623159e308}]}`,            // rounds past the largest float64
		`{"a":1.7976931348623157e308, "b":1.797693134862315799e308}`,
		"\t\n{\"\\\"\":\"\\\\\",\"n\":1E+308}",
		`0.` + strings.Repeat("0", 400) + `1e400`, // mantissa tiny, exponent large
		"[\"\xf0\x9f\x98\"]",                      // a rune cut short
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		got, want := "", unfitReference(t, b)
		if err := jsonUnfit(b); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Fatalf("jsonUnfit(%q) = %q, the reference says %q", b, got, want)
		}
	})
}

// unfitReference is why the engine takes in no valid JSON b, "" when it
// takes it, as the docs state it: UTF-8 (the first byte that begins no
// rune), then, in the order the tokens come, no nesting deeper than
// MaxJSONDepth and no number beyond a float64's range (one too small
// reads as 0 and is taken).
func unfitReference(t *testing.T, b []byte) string {
	if !utf8.Valid(b) {
		s := string(b)
		for i, r := range s {
			// A range over a string reads a byte that begins no rune as
			// U+FFFD, one byte long; a U+FFFD written in UTF-8 is three.
			if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
				return fmt.Sprintf("invalid UTF-8 at byte offset %d", i)
			}
		}
		t.Fatalf("%q: utf8.Valid refuses it, but every rune decodes", b)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			t.Fatalf("%q: json.Valid takes it, but a Decoder says %v", b, err)
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				if depth++; depth > MaxJSONDepth {
					return fmt.Sprintf("JSON nested more than %d levels deep", MaxJSONDepth)
				}
			} else {
				depth--
			}
		case json.Number:
			v, err := strconv.ParseFloat(string(tok), 64)
			if errors.Is(err, strconv.ErrRange) && v != 0 {
				at := int(d.InputOffset()) - len(tok)
				return fmt.Sprintf("the number %s at byte offset %d is out of the range of a float64", snippet.Cut(string(tok), 40), at)
			} else if err != nil && !errors.Is(err, strconv.ErrRange) {
				t.Fatalf("%q: the number %s does not parse: %v", b, tok, err)
			}
		}
	}
}
