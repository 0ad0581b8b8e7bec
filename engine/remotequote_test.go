package engine

import (
	"strings"
	"testing"
)

// The 400 answers to a registration quote its callback URL or NATS
// subject bounded (quoteParam), as every other request text: they quoted
// it whole, up to the body's 1 MiB.
func TestRegistrationRefusalsQuoteBounded(t *testing.T) {
	_, _, srv := remoteFixture(t, ProviderOptions{NATS: stubTransport{}})
	long := strings.Repeat("a", 64<<10)
	for _, tc := range []struct{ what, handler, says string }{
		{"a URL off the allow-list", `"url": "http://10.1.2.3/` + long + `"`, "is not on loopback"},
		{"a URL that is none", `"url": "ftp://127.0.0.1/` + long + `"`, "is not an http(s) URL"},
		{"a URL with a bad port", `"url": "http://127.0.0.1:0/` + long + `"`, "url "},
		{"a subject too long", `"subject": "flowgen_provider.` + long + `"`, "is not a NATS subject"},
		{"a subject elsewhere", `"subject": "billing.` + strings.Repeat("s", MaxProviderSubject-8) + `"`, "is not under"},
	} {
		status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Reserve", `+tc.handler+`}]}`)
		if status != 400 || !strings.Contains(out, tc.says) {
			t.Errorf("%s: %d %.300s, want 400 saying %s", tc.what, status, out, tc.says)
			continue
		}
		if len(out) > 2*shownBytes+300 || !strings.Contains(out, `"...`) {
			t.Errorf("%s: %d bytes of answer, want its text quoted within %d bytes: %.600s", tc.what, len(out), shownBytes, out)
		}
	}
}
