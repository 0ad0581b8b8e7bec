package dsl

import "testing"

func TestCorrelationPathProblem(t *testing.T) {
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
