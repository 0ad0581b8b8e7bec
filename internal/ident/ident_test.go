package ident

import (
	"testing"
	"time"
)

func TestIsAndFormat(t *testing.T) {
	for _, tt := range []struct {
		name, format string
		is, isGo     bool
	}{
		{"billing", "billing", true, true},
		{"_x9", "_x9", true, true},
		{"Orders_v1", "Orders_v1", true, true},
		{"billing-events", `"billing-events"`, false, false},
		{"orders.v1", `"orders.v1"`, false, false},
		{"9lives", `"9lives"`, false, false},
		{"", `""`, false, false},
		{"café", `"café"`, false, true}, // a Go identifier, not a .flow one
		{"type", "type", true, true},    // keywords are identifiers to both
		{"a b", `"a b"`, false, false},
		{"\xff", `"\xff"`, false, false},
	} {
		if got := Is(tt.name); got != tt.is {
			t.Errorf("Is(%q) = %v, want %v", tt.name, got, tt.is)
		}
		if got := IsGo(tt.name); got != tt.isGo {
			t.Errorf("IsGo(%q) = %v, want %v", tt.name, got, tt.isGo)
		}
		if got := Format(tt.name); got != tt.format {
			t.Errorf("Format(%q) = %s, want %s", tt.name, got, tt.format)
		}
	}
}

func TestExported(t *testing.T) {
	for in, want := range map[string]string{"secret": "Secret", "Name": "Name", "élan": "Élan", "_x": "X", "__count": "Count", "_9": "", "_": "", "9": "", "": ""} {
		if got := Exported(in); got != want {
			t.Errorf("Exported(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCamelCaseAndGoName(t *testing.T) {
	for _, tt := range []struct{ in, camel, goName string }{
		{"approved", "Approved", "Approved"},
		{"needs_review", "NeedsReview", "NeedsReview"},
		{"HTTPError", "HTTPError", "HTTPError"},
		{"Card.Authorize", "CardAuthorize", "CardAuthorize"},
		{"billing-events", "BillingEvents", "BillingEvents"},
		{"/v1/charge", "V1Charge", "V1Charge"},
		{"a1b", "A1b", "A1b"},
		{"__x__y", "XY", "XY"},
		{"été", "Été", "Été"},
		{"9lives", "9lives", ""},
		{"...", "", ""},
		{"", "", ""},
	} {
		if got := CamelCase(tt.in); got != tt.camel {
			t.Errorf("CamelCase(%q) = %q, want %q", tt.in, got, tt.camel)
		}
		if got := GoName(tt.in); got != tt.goName {
			t.Errorf("GoName(%q) = %q, want %q", tt.in, got, tt.goName)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                          "0s",
		250 * time.Millisecond:     "250ms",
		90 * time.Second:           "1m30s",
		5 * time.Minute:            "5m",
		time.Hour + 30*time.Minute: "1h30m",
		72 * time.Hour:             "72h",
		time.Hour + time.Second:    "1h0m1s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(want); err != nil || back != d {
			t.Errorf("%q parses back to %v, %v; want %v", want, back, err, d)
		}
	}
}

func TestArticle(t *testing.T) {
	for word, want := range map[string]string{
		"step": "a", "action": "an", "await": "an", "rpc": "an", "rpc action": "an", "RPC": "an",
		"OrderOutcome": "an", "SignupOutcome": "a", "rpcx": "a", "": "a",
	} {
		if got := Article(word); got != want {
			t.Errorf("Article(%q) = %q, want %q", word, got, want)
		}
	}
}
