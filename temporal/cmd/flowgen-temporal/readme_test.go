package main

// The README's Temporal walk-through, as written: its shell block is read
// from README.md and each line is carried out (the build, a Temporal
// server, the flows directory, `flowgen serve -temporal` with its flags,
// which runs the flowgen-temporal built beside it),
// then the serve walk-through's curl lines for runs and events, which the
// README says work against it unchanged. What only this machine decides is
// mapped: the server is temporaltest's (its address and namespace), the
// ports are free ones, and the echo service of the `flowgen serve` the
// README keeps running is a stand-in that answers the same. A line the
// test does not know fails it, so that the README cannot drift from what
// works.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/internal/readmetest"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

func TestReadmeTemporalWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// What the serve walk-through left in its directory: the token file,
	// and the flows it defined, saved as <Flow>.json: Signup, and Billing
	// of the provider walk-through, whose Go steps flowgen-temporal
	// cannot serve.
	const admin, client = "readme-admin-token-0123456789", "readme-client-token-0123456789"
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte("admin "+admin+"\nclient "+client+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	signup, err := os.ReadFile(filepath.Join(repo, "examples", "serve", "signup.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "flows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flows", "Signup.json"), signup, 0o644); err != nil {
		t.Fatal(err)
	}
	billing, err := os.ReadFile(filepath.Join(repo, "examples", "provider", "billing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flows", "Billing.json"), billing, 0o644); err != nil {
		t.Fatal(err)
	}
	// POST /echo/{endpoint} of `flowgen serve`: the request body back.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(echo.Close)

	var ts *temporaltest.TestServer
	var bin, base string
	for _, line := range readmetest.Block(t, repo, "`flowgen serve`'s store has one writer") {
		switch {
		case line == "(cd temporal && go install ./cmd/flowgen-temporal)   # from a checkout: beside flowgen, which runs it":
			bin = flowgenBeside(t, repo, binary(t)) // the same build, once per test process
		case strings.HasPrefix(line, "temporal server start-dev"):
			ts = testserver.New(t)
		case line == "mkdir -p tflows && cp flows/Signup.json tflows/":
			cmd := exec.Command("sh", "-c", line)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
		case strings.HasPrefix(line, "flowgen serve -temporal "):
			if bin == "" || ts == nil {
				t.Fatalf("README line %q: the build and the Temporal server come first", line)
			}
			words, _ := readmetest.Words(t, line, nil)
			// The README keeps its flowgen serve on 127.0.0.1:8080 (the
			// echo service is its): this one needs another address.
			if i := slices.Index(words, "-addr"); i < 0 || i+1 == len(words) || strings.HasSuffix(words[i+1], ":8080") {
				t.Fatalf("README line %q: flowgen-temporal would take the address of the flowgen serve it calls", line)
			}
			// temporaltest's namespace, where the README's server has "default".
			args := []string{words[1], "-namespace", ts.GetDefaultNamespace()}
			for _, w := range words[2:] {
				switch w {
				case "localhost:7233":
					w = ts.GetFrontendHostPort()
				case "127.0.0.1:8090":
					w = "127.0.0.1:0"
				case "customers=http://localhost:8080/echo":
					w = "customers=" + echo.URL + "/echo"
				}
				args = append(args, w)
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			base, _ = startListening(t, cmd, fmt.Sprintf("flowgen %q", args))
		default:
			t.Fatalf("README Temporal line %q: the test does not know it: teach TestReadmeTemporalWalkthrough", line)
		}
	}
	if base == "" {
		t.Fatal("the README's Temporal block started no flowgen serve -temporal")
	}

	// The serve walk-through's curl lines for runs and events, against it.
	vars := map[string]string{"ADMIN": admin, "CLIENT": client}
	var runID string
	blocks := [][]string{
		readmetest.Block(t, repo, "Start runs over HTTP and by an event"),
		readmetest.Block(t, repo, "Watch them in a browser"),
		readmetest.Block(t, repo, "Kill the server"),
	}
	ran := 0
	for _, block := range blocks {
		for _, line := range block {
			if !strings.HasPrefix(line, "curl ") || strings.Contains(line, "/metrics") {
				continue // flowgen's own commands and /metrics: the README says they are not flowgen-temporal's
			}
			words, comment := readmetest.Words(t, line, vars)
			want := readmetest.Expectations(comment)
			deadline := time.Now().Add(time.Minute)
			for {
				status, body := readmetest.Curl(t, repo, base, words)
				got, missing := readmetest.Compact(body), ""
				for _, w := range want {
					if !strings.Contains(got, w) {
						missing = w
					}
				}
				if status/100 == 2 && missing == "" {
					if runID == "" && strings.Contains(line, "/flows/Signup/runs") {
						var out struct {
							RunID string `json:"run_id"`
						}
						_ = json.Unmarshal([]byte(body), &out)
						runID = out.RunID
					}
					break
				}
				if time.Now().After(deadline) || status/100 != 2 && len(want) == 0 {
					t.Fatalf("README line %q against flowgen-temporal: %d %s; want 2xx with %q", line, status, body, missing)
				}
				time.Sleep(100 * time.Millisecond)
			}
			ran++
		}
	}
	if runID == "" || ran < 6 {
		t.Fatalf("ran %d curl lines, run %q: the README's blocks moved", ran, runID)
	}
}

// flowgenBeside builds the flowgen command of the core module at repo into
// the directory of the flowgen-temporal binary temporal, as the README
// installs them (both with go install), and returns its path: its
// serve -temporal runs the flowgen-temporal beside it.
func flowgenBeside(t *testing.T, repo, temporal string) string {
	t.Helper()
	path := filepath.Join(filepath.Dir(temporal), "flowgen")
	cmd := exec.Command("go", "build", "-o", path, "./cmd/flowgen")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/flowgen: %v\n%s", err, out)
	}
	return path
}

// The README's development server is set as docs/temporal.md asks of every
// server that runs flowgen's workers (testserver.Required, what every test
// server of this module has): before, it was started without the retry
// stamp, so a try-out ran on a server unlike the tests', whose retries may
// start before their backoff ends.
func TestReadmeDevServerSettings(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range readmetest.Block(t, repo, "`flowgen serve`'s store has one writer") {
		if strings.HasPrefix(l, "temporal server start-dev") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("the README's Temporal block starts no temporal server start-dev")
	}
	words, _ := readmetest.Words(t, line, nil)
	set := map[string]string{}
	for i, w := range words {
		if w == "--dynamic-config-value" && i+1 < len(words) {
			k, v, _ := strings.Cut(words[i+1], "=")
			set[strings.ToLower(k)] = v // the server's keys are case-insensitive (dynamicconfig.MakeKey)
		}
	}
	for k, v := range testserver.Required() {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := set[k.String()]; !ok || got != string(want) {
			t.Errorf("README line %q: want --dynamic-config-value %s=%s (docs/temporal.md: a server that runs flowgen's workers)", line, k, want)
		}
	}
}
