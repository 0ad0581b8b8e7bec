package cli

// The README's provider walk-through, as written: its shell block is read
// from README.md and each line is carried out against a real `flowgen
// serve` (the token file appended to and SIGHUP, the awk lines, curl with
// its options, `go run ./examples/provider`); a line the test does not
// know fails it, so that the README cannot drift from what works. A
// comment after a curl line ("# "provided": true, ...") is what the answer
// must contain.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock returns the lines of the first ```sh block after the
// paragraph that starts with intro.
func readmeBlock(t *testing.T, intro string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+intro)
	if !ok {
		t.Fatalf("README.md has no paragraph starting %q", intro)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("README.md: no sh block after %q", intro)
	}
	return strings.Split(strings.TrimSpace(block), "\n")
}

// shellWords splits a command line as sh does for the forms the README
// uses: '...' literal, "..." and bare words with $VAR expanded, a comment
// from an unquoted " #". It returns the words and the comment.
func shellWords(t *testing.T, line string, vars map[string]string) ([]string, string) {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(s string) string {
		return regexp.MustCompile(`\$[A-Z_]+`).ReplaceAllStringFunc(s, func(v string) string {
			val, ok := vars[v[1:]]
			if !ok {
				t.Fatalf("README line %q: %s is not set by an earlier line", line, v)
			}
			return val
		})
	}
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				t.Fatalf("README line %q: unterminated '", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				t.Fatalf("README line %q: unterminated \"", line)
			}
			cur.WriteString(expand(line[i+1 : i+1+j]))
			i += j + 1
			inWord = true
		case c == '#' && !inWord:
			return words, strings.TrimSpace(line[i+1:])
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t'\"", rune(line[j])) {
				j++
			}
			cur.WriteString(expand(line[i:j]))
			i = j - 1
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, ""
}

// curl carries out a curl command line of the README against base (the
// README's localhost:8080) and returns the status and the body.
func readmeCurl(t *testing.T, repo, base string, words []string) (int, string) {
	t.Helper()
	method, url, body, token := "", "", "", ""
	ctype := ""
	for i := 1; i < len(words); i++ {
		arg := func() string {
			i++
			if i >= len(words) {
				t.Fatalf("curl %q: %s needs a value", words, words[i-1])
			}
			return words[i]
		}
		switch w := words[i]; w {
		case "--oauth2-bearer":
			token = arg()
		case "-X":
			method = arg()
		case "--json":
			body, ctype = arg(), "application/json"
			if f, ok := strings.CutPrefix(body, "@"); ok {
				b, err := os.ReadFile(filepath.Join(repo, f))
				if err != nil {
					t.Fatalf("curl --json @%s: %v", f, err)
				}
				body = string(b)
			}
			if method == "" {
				method = "POST"
			}
		default:
			if strings.HasPrefix(w, "-") || url != "" {
				t.Fatalf("curl %q: the test does not know %q: teach readmeCurl", words, w)
			}
			url = w
		}
	}
	if method == "" {
		method = "GET"
	}
	rest, ok := strings.CutPrefix(url, "localhost:8080")
	if !ok {
		t.Fatalf("curl %q: the URL is not on localhost:8080", words)
	}
	req, err := http.NewRequest(method, base+rest, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

// expectations are the `"key": value` fragments of a README comment, each
// of which the compacted answer must contain.
func expectations(comment string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"[^"]+":\s*("[^"]*"|true|false|[0-9.]+)`).FindAllString(comment, -1) {
		out = append(out, regexp.MustCompile(`:\s*`).ReplaceAllString(m, ":"))
	}
	return out
}

func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

func TestReadmeProviderWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/provider with go run")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	lines := readmeBlock(t, "A Go step served by another process")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	secret := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	if err := os.WriteFile(tokens, []byte(fmt.Sprintf("admin %s\nclient %s\n", secret(), secret())), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeProc(t, "-store", filepath.Join(dir, "data"), "-flows", filepath.Join(dir, "flows"), "-tokens", tokens)
	// The README's earlier line: ADMIN=$(awk ...) CLIENT=$(awk ...).
	vars := map[string]string{}
	awk := regexp.MustCompile(`^([A-Z]+)=\$\(awk '\$1 == "([a-z]+)" \{print \$2\}' tokens\)$`)
	setFromTokens := func(name, role string) {
		b, err := os.ReadFile(tokens)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == role {
				vars[name] = f[1]
				return
			}
		}
		t.Fatalf("no %s token in the token file", role)
	}
	setFromTokens("ADMIN", "admin")
	setFromTokens("CLIENT", "client")

	var provider *exec.Cmd
	var providerDone chan struct{} // closed when the provider has exited
	var providerLog syncBuffer
	startProvider := func(args []string) {
		provider = exec.Command(goBin, args...)
		provider.Dir = repo
		provider.Stdout, provider.Stderr = &providerLog, &providerLog
		provider.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run and the program it builds
		if err := provider.Start(); err != nil {
			t.Fatal(err)
		}
		done, cmd := make(chan struct{}), provider
		go func() { _ = cmd.Wait(); close(done) }()
		providerDone = done
	}
	stopProvider := func(sig syscall.Signal) {
		if provider != nil {
			_ = syscall.Kill(-provider.Process.Pid, sig) // SIGINT, Ctrl-C: the lease is withdrawn
			<-providerDone
			provider = nil
		}
	}
	t.Cleanup(func() {
		stopProvider(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("provider's log:\n%s", providerLog.String())
		}
	})
	var goRun []string
	var started string
	for _, line := range lines {
		switch {
		case line == `printf 'provider %s\n' "$(openssl rand -hex 32)" >> tokens && pkill -HUP -f 'flowgen serve -store ./data'`:
			f, err := os.OpenFile(tokens, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "provider %s\n", secret())
			f.Close()
			if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "serve to reload the tokens", func() bool { return strings.Contains(srv.logs.String(), `msg="SIGHUP: tokens reloaded" tokens=3`) })
		case awk.MatchString(line):
			m := awk.FindStringSubmatch(line)
			setFromTokens(m[1], m[2])
		case strings.HasPrefix(line, "go run ./examples/provider "):
			words, _ := shellWords(t, line, vars)
			if words[len(words)-1] != "&" {
				t.Fatalf("README: %q does not run the provider in the background", line)
			}
			goRun = words[1 : len(words)-1]
			for i, w := range goRun {
				goRun[i] = strings.ReplaceAll(w, "http://127.0.0.1:8080", srv.url)
			}
			startProvider(goRun)
		case strings.HasPrefix(line, "curl "):
			words, comment := shellWords(t, line, vars)
			want := expectations(comment)
			deadline := time.Now().Add(90 * time.Second) // go run compiles the provider first
			for {
				status, body := readmeCurl(t, repo, srv.url, words)
				got := compactJSON(body)
				missing := ""
				for _, w := range want {
					if !strings.Contains(got, w) {
						missing = w
					}
				}
				if status/100 == 2 && missing == "" {
					if strings.Contains(line, "/rpc/Billing.Start") {
						var out struct {
							RunID string `json:"run_id"`
						}
						_ = json.Unmarshal([]byte(body), &out)
						started = out.RunID
					}
					break
				}
				if provider != nil {
					select {
					case <-providerDone:
						t.Fatalf("README line %q: the provider (%q) has exited:\n%s", line, goRun, providerLog.String())
					default:
					}
				}
				if time.Now().After(deadline) || status/100 != 2 && len(want) == 0 {
					t.Fatalf("README line %q: %d %s; want 2xx with %q", line, status, body, missing)
				}
				time.Sleep(100 * time.Millisecond)
			}
		default:
			t.Fatalf("README walk-through line %q: the test does not know it: teach TestReadmeProviderWalkthrough", line)
		}
	}
	if provider == nil || started == "" {
		t.Fatalf("the walk-through did not start the provider and a run (%v, %q)", goRun, started)
	}
	client := vars["CLIENT"]
	runState := func(id string) map[string]any {
		_, body := readmeCurl(t, repo, srv.url, []string{"curl", "--oauth2-bearer", client, "localhost:8080/runs/" + id})
		var st map[string]any
		_ = json.Unmarshal([]byte(body), &st)
		return st
	}
	waitUntil(t, "the run of the walk-through to be done", func() bool { return runState(started)["state"] == "done" })
	if !strings.Contains(providerLog.String(), "reconcile 12.5 (key "+started+"/") {
		t.Errorf("the provider did not log the call:\n%s", providerLog.String())
	}
	start := func(body string) string {
		status, out := readmeCurl(t, repo, srv.url, []string{"curl", "--oauth2-bearer", client, "--json", body, "localhost:8080/rpc/Billing.Start"})
		var r struct {
			RunID string `json:"run_id"`
		}
		if status != 201 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("start: %d %s", status, out)
		}
		return r.RunID
	}
	// A disputed invoice fails the run: the provider's rollback undoes it.
	disputed := start(`{"Amount": 5000}`)
	waitUntil(t, "the disputed run to be compensated", func() bool { return runState(disputed)["state"] == "compensated" })
	if !strings.Contains(providerLog.String(), "unreconcile (key "+disputed+"/") {
		t.Errorf("the provider's rollback was not called:\n%s", providerLog.String())
	}

	// The README's next paragraph: a run started while no provider serves
	// its step waits for one, and goes on when the provider registers.
	stopProvider(syscall.SIGINT)
	if status, body := readmeCurl(t, repo, srv.url, []string{"curl", "--oauth2-bearer", client, "localhost:8080/providers"}); status != 200 || compactJSON(body) != `{"providers":[]}` {
		t.Errorf("after Ctrl-C of the provider: GET /providers: %d %s, want its lease withdrawn", status, body)
	}
	waiting := start(`{"Amount": 7}`)
	waitUntil(t, "the run to wait for a provider", func() bool {
		w, _ := runState(waiting)["wait"].(map[string]any)
		return w != nil && w["topic"] == "flowgen/provider"
	})
	startProvider(goRun)
	waitUntil(t, "the waiting run to be done", func() bool { return runState(waiting)["state"] == "done" })
	stopProvider(syscall.SIGINT)
}
