package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine"
)

// The manual (the package doc of cmd/flowgen) names every verb and every
// flag, so that adding one without documenting it fails here.
func TestManualCoversEveryVerbAndFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "cmd", "flowgen", "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	manual := string(b)
	for _, v := range verbs {
		if !strings.Contains(manual, "flowgen "+v.name) {
			t.Errorf("the manual does not show %q", "flowgen "+v.name)
		}
		fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
		v.flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(manual, "-"+f.Name) {
				t.Errorf("the manual does not mention %s -%s", v.name, f.Name)
			}
		})
	}
	for _, want := range []string{"//go:generate go tool flowgen", "tool github.com/flowgen/flowgen/cmd/flowgen", "# Exit status"} {
		if !strings.Contains(manual, want) {
			t.Errorf("the manual lacks %q", want)
		}
	}
}

// A verb's summary is printed as written (flowgen help VERB): its lines
// fit a terminal of 80 columns, as go doc's do.
func TestSummariesFitEightyColumns(t *testing.T) {
	for _, v := range verbs {
		for i, line := range strings.Split(v.summary, "\n") {
			if len(line) > 80 {
				t.Errorf("flowgen help %s, line %d of the summary has %d columns: %q", v.name, i+1, len(line), line)
			}
		}
	}
}

// flowgen help serve, the operator's first stop, says where to watch the
// server: the web view, the metrics and the traces' flag, not only the
// flags' list (the start line names the web view's address).
func TestServeHelpSaysHowToObserve(t *testing.T) {
	for _, want := range []string{"/ui/", "GET /metrics", "-otlp-traces", "docs/observability.md"} {
		if !strings.Contains(serveVerb.summary, want) {
			t.Errorf("flowgen help serve does not say %q", want)
		}
	}
}

// flowgen help serve says what only an admin may do, and the access
// table (engine.Routes) decides it: each admin route is named there. It
// left out GET /providers, the providers' leases, so a client token's 403
// there came unannounced.
func TestServeHelpNamesAdminRoutes(t *testing.T) {
	says := map[string]string{
		"PUT /flows":            "defines flows",
		"POST /flows":           "defines flows",
		"POST /runs/{id}/abort": "aborts runs",
		"GET /deadletters":      "dead letters",
		"GET /providers":        "the providers' leases",
	}
	summary := strings.Join(strings.Fields(serveVerb.summary), " ")
	_, roles, ok := strings.Cut(summary, "only admin ")
	if !ok {
		t.Fatal(`flowgen help serve does not say what "only admin" may do`)
	}
	roles, _, _ = strings.Cut(roles, ";")
	n := 0
	for _, rt := range engine.Routes() {
		if rt.Need != engine.RoleAdmin {
			continue
		}
		n++
		want, ok := says[rt.Pattern]
		if !ok {
			t.Errorf("%s is for admins only: teach this test what flowgen help serve says of it, and say it there", rt.Pattern)
			continue
		}
		if !strings.Contains(roles, want) {
			t.Errorf("flowgen help serve's admin-only list (%q) does not say %q (%s)", roles, want, rt.Pattern)
		}
	}
	if n == 0 {
		t.Fatal("no admin route in engine.Routes: the table was not read")
	}
}
