package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
