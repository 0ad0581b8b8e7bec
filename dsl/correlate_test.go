package dsl

import (
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// The default path the checks and the docs name is the one the runtime
// compares.
func TestDefaultCorrelationPath(t *testing.T) {
	if DefaultCorrelationPath != runtime.CorrelationField {
		t.Errorf("DefaultCorrelationPath = %q, runtime.CorrelationField = %q", DefaultCorrelationPath, runtime.CorrelationField)
	}
	for path, want := range map[string]string{
		"order_id":         "",
		"payment.order_id": "",
		"order-id":         "",
		"":                 "it is empty",
		".order_id":        "it has an empty member (a dot at either end, or two in a row)",
		"a\tb":             "it contains white space",
		"a\u00a0b":         "it contains white space",
		"a\x7fb":           "it contains a control character",
		"a\xffb":           "it is not valid UTF-8",
	} {
		if got := CorrelationPathProblem(path); got != want {
			t.Errorf("CorrelationPathProblem(%q) = %q, want %q", path, got, want)
		}
	}
}
