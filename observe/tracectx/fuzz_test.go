package tracectx

import (
	"strings"
	"testing"
)

// FuzzParse: Parse reads the traceparent of an incoming request, broker
// message or remote provider's answer, which anyone sending them writes:
// on any input it returns a span context without panicking; one that is
// valid writes back (Traceparent) as the version 00 form, lower-case hex,
// which Parse reads as the same span context, and a version 00 form Parse
// took is written back as it came.
//
//	go test ./observe/tracectx -run '^$' -fuzz FuzzParse -fuzztime 3m
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
		"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09-extra",
		"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
		" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 ",
		"", "junk", "00-", "00--", "00-x-y-z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc := Parse(s)
		if !sc.IsValid() {
			if Traceparent(sc) != "" {
				t.Fatalf("Parse(%q) is not valid, but has the traceparent %q", s, Traceparent(sc))
			}
			return
		}
		tp := Traceparent(sc)
		if len(tp) != 55 || tp != strings.ToLower(tp) || !strings.HasPrefix(tp, "00-") {
			t.Fatalf("Parse(%q): Traceparent %q is not the version 00 form", s, tp)
		}
		if back := Parse(tp); !back.Equal(sc) {
			t.Fatalf("Parse(%q) = %v, but Parse(Traceparent) = %v", s, sc, back)
		}
		if strings.HasPrefix(s, "00-") && len(s) == 55 && tp != s {
			t.Fatalf("Parse(%q) writes back as %q", s, tp)
		}
	})
}
