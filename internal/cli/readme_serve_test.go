package cli

// The README's `flowgen serve` walk-through, as written: its shell blocks
// are read from README.md and each line is carried out against a real
// `flowgen serve` process (the token file, the server's command in the
// background and its PID noted in serve.pid, the awk lines, curl with its
// options, the kill of that PID and the restart, the flowgen commands); a line the test does not know fails it, so that the README
// cannot drift from what works. A comment after a curl line
// (`# "state": "done"`) is what the answer must contain.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/readmetest"
)

func TestReadmeServeWalkthrough(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The README's server listens on localhost:8080 and is its own echo
	// service there; here a free port stands for it, the same across the
	// restart, as "the same command" keeps it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	local := func(w string) string {
		w = strings.ReplaceAll(w, "http://localhost:8080", "http://"+addr)
		if p, ok := strings.CutPrefix(w, "./"); ok {
			return filepath.Join(dir, p) // the walk-through's working directory
		}
		if w == "tokens" {
			return filepath.Join(dir, w)
		}
		return w
	}

	vars := map[string]string{}
	var srv *serveProc
	var serveArgs []string
	awk := regexp.MustCompile(`^([A-Z]+)=\$\(awk '\$1 == "([a-z]+)" \{print \$2\}' tokens\) ([A-Z]+)=\$\(awk '\$1 == "([a-z]+)" \{print \$2\}' tokens\)$`)
	token := func(role string) string {
		b, err := os.ReadFile(filepath.Join(dir, "tokens"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == role {
				return f[1]
			}
		}
		t.Fatalf("no %s token in the token file", role)
		return ""
	}
	flowgen := func(words []string) string {
		args := make([]string, 0, len(words)-1)
		for _, w := range words[1:] {
			args = append(args, local(w))
		}
		var out, errb bytes.Buffer
		if code := Main(args, nil, &out, &errb); code != 0 {
			t.Fatalf("README: flowgen %q: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}

	blocks := []string{
		"`engine/` is what a service embeds",
		"It listens on `127.0.0.1:8080`",
		"Define a flow",
		"Start runs over HTTP and by an event",
		"Watch them in a browser",
		"Aborting a run takes the admin token",
		"Kill the server",
		"An event from the broker that can never start its run",
	}
	ran := 0
	answers := map[string]string{} // a curl line's last answer
	pidFile := filepath.Join(dir, "serve.pid")
	for _, intro := range blocks {
		if intro == "Kill the server" {
			// "Kill the server (kill -9 "$(cat serve.pid)"), start it again
			// with the same two lines": serve.pid names this server.
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("README: no serve.pid to kill the server by: %v", err)
			}
			if pid := strings.TrimSpace(string(b)); pid != fmt.Sprint(srv.cmd.Process.Pid) {
				t.Fatalf("README: serve.pid holds %q, not the server's PID %d", pid, srv.cmd.Process.Pid)
			}
			srv.kill9()
			srv = startServeProc(t, serveArgs...)
			if err := os.WriteFile(pidFile, []byte(fmt.Sprintln(srv.cmd.Process.Pid)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		background := false // the line before started the server in the background
		for _, line := range readmetest.Block(t, repo, intro) {
			words, comment := readmetest.Words(t, line, vars)
			wasBackground := background
			background = false
			switch {
			case strings.HasPrefix(line, "#"):
				// What the line before answered, for the reader.
			case len(words) == 2 && words[0] == "umask":
				// The token file below is written 0600 here anyway.
			case line == `printf 'admin %s\nclient %s\n' "$(openssl rand -hex 32)" "$(openssl rand -hex 32)" > tokens`:
				secret := func() string {
					b := make([]byte, 32)
					_, _ = rand.Read(b)
					return hex.EncodeToString(b)
				}
				if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(fmt.Sprintf("admin %s\nclient %s\n", secret(), secret())), 0o600); err != nil {
					t.Fatal(err)
				}
			case len(words) > 1 && words[0] == "flowgen" && words[1] == "serve":
				// In the background, so that its PID is $! for the next line.
				if words[len(words)-1] != "&" {
					t.Fatalf("README: %q does not run the server in the background", line)
				}
				serveArgs = []string{"-addr", addr}
				for _, w := range words[2 : len(words)-1] {
					serveArgs = append(serveArgs, local(w))
				}
				srv = startServeProc(t, serveArgs...)
				background = true
			case slices.Equal(words, []string{"echo", "$!", ">", "serve.pid"}):
				if !wasBackground {
					t.Fatalf("README line %q: $! is the server's PID only right after the line that starts it", line)
				}
				if err := os.WriteFile(pidFile, []byte(fmt.Sprintln(srv.cmd.Process.Pid)), 0o600); err != nil {
					t.Fatal(err)
				}
			case awk.MatchString(line):
				m := awk.FindStringSubmatch(line)
				vars[m[1]], vars[m[3]] = token(m[2]), token(m[4])
			case len(words) > 1 && words[0] == "flowgen":
				out := flowgen(words)
				if words[1] == "history" && !regexp.MustCompile(`AwaitPayment:waiting -> AwaitPayment:running +- +woken`).MatchString(out) {
					t.Errorf("README: %q printed no wake-up of AwaitPayment:\n%s", line, out)
				}
			case strings.HasPrefix(line, "curl "):
				if srv == nil {
					t.Fatalf("README line %q: no server started before it", line)
				}
				want := readmetest.Expectations(comment)
				if strings.Contains(line, "/deadletters") {
					// The README says this walk-through leaves the list
					// empty: its comment shows what a dead letter looks like.
					want = []string{`{"dead_letters":[]}`}
				}
				deadline := time.Now().Add(30 * time.Second)
				var status int
				var body string
				for {
					status, body = readmetest.Curl(t, repo, srv.url, words)
					got, missing := readmetest.Compact(body), ""
					for _, w := range want {
						if !strings.Contains(got, w) {
							missing = w
						}
					}
					if status/100 == 2 && missing == "" {
						break
					}
					if time.Now().After(deadline) || status/100 != 2 && len(want) == 0 {
						t.Fatalf("README line %q: %d %s; want 2xx with %q", line, status, body, missing)
					}
					time.Sleep(50 * time.Millisecond)
				}
				ran++
				answers[line] = body
			default:
				t.Fatalf("README walk-through line %q: the test does not know it: teach TestReadmeServeWalkthrough", line)
			}
		}
		readmeServeClaims(t, intro, repo, dir, srv.url, vars, answers)
	}
	if ran < 13 {
		t.Fatalf("ran %d curl lines: the README's blocks moved", ran)
	}
}

// readmeServeClaims checks what the prose around the walk-through's block
// intro says of its curl lines, by sending each line again as the prose
// varies it: the status codes it promises for another token, the same
// request again and a run that is over, and the files it says -flows holds.
// answers are the lines' answers in the walk-through.
func readmeServeClaims(t *testing.T, intro, repo, dir, base string, vars map[string]string, answers map[string]string) {
	t.Helper()
	// find returns the block's curl line that contains s, and its words.
	find := func(s string) (string, []string) {
		t.Helper()
		for _, line := range readmetest.Block(t, repo, intro) {
			if strings.HasPrefix(line, "curl ") && strings.Contains(line, s) {
				words, _ := readmetest.Words(t, line, vars)
				return line, words
			}
		}
		t.Fatalf("README: the block after %q has no curl line with %q", intro, s)
		return "", nil
	}
	// with returns words with the value of option opt replaced by value,
	// or the option removed when value is "".
	with := func(words []string, opt, value string) []string {
		out := slices.Clone(words)
		i := slices.Index(out, opt)
		if i < 0 {
			t.Fatalf("README line %q has no %s", words, opt)
		}
		if value == "" {
			return slices.Delete(out, i, i+2)
		}
		out[i+1] = value
		return out
	}
	expect := func(what string, words []string, want int) string {
		t.Helper()
		status, body := readmetest.Curl(t, repo, base, words)
		if status != want {
			t.Errorf("README: %s answers %d %s; the README says %d", what, status, body, want)
		}
		return body
	}
	switch intro {
	case "Define a flow":
		// "It takes the admin token (the client one gets `403`, no token
		// `401`)", and -flows "is where the flows you define are saved
		// (as `<Flow>.json`)".
		_, put := find("PUT")
		expect("PUT /flows with the client token", with(put, "--oauth2-bearer", vars["CLIENT"]), http.StatusForbidden)
		expect("PUT /flows without a token", with(put, "--oauth2-bearer", ""), http.StatusUnauthorized)
		if _, err := os.Stat(filepath.Join(dir, "flows", "Signup.json")); err != nil {
			t.Errorf("README: -flows ./flows holds no Signup.json after PUT /flows: %v", err)
		}
		// "(or the `.flow` source itself, named so: `PUT
		// /flows?name=signup.flow`)": the same flow, defined anew.
		src := with(put, "--json", "@examples/serve/signup.flow")
		src[len(src)-1] += "?name=signup.flow"
		expect("PUT /flows?name=signup.flow of examples/serve/signup.flow", src, http.StatusOK)
	case "Start runs over HTTP and by an event":
		// "The same request again (same `Idempotency-Key`, same body)
		// answers the same run; the same key with another body is refused
		// with `422`."
		line, start := find("Idempotency-Key: req-42")
		first := answers[line]
		again := expect("the same request again", start, http.StatusOK)
		var a, b struct {
			RunID string `json:"run_id"`
		}
		if json.Unmarshal([]byte(first), &a) != nil || json.Unmarshal([]byte(again), &b) != nil || a.RunID == "" || a.RunID != b.RunID {
			t.Errorf("README: the same request again answers %s, the first %s: not the same run", again, first)
		}
		expect("the same Idempotency-Key with another body", with(start, "--json", `{"Email":"other@example.com"}`), http.StatusUnprocessableEntity)
	case "Aborting a run takes the admin token":
		// "a run that is over [...] answers `409`": zoe is aborted now.
		_, abort := find("/abort")
		expect("aborting the aborted run again", abort, http.StatusConflict)
	}
}
