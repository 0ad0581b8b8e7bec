package cli

// The README's provider walk-through, as written: its shell block is read
// from README.md and each line is carried out against a real `flowgen
// serve` (the token file appended to and SIGHUP, the awk lines, curl with
// its options, `go run ./examples/provider`); a line the test does not
// know fails it, so that the README cannot drift from what works. A
// comment after a curl line ("# "provided": true, ...") is what the answer
// must contain.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/internal/readmetest"
)

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
	lines := readmetest.Block(t, repo, "A Go step served by another process")
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
	var providerLog logtest.Buffer
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
		case line == `grep -q '^provider ' tokens || { printf 'provider %s\n' "$(openssl rand -hex 32)" >> tokens && kill -HUP "$(cat serve.pid)"; }`:
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
			words, _ := readmetest.Words(t, line, vars)
			if words[len(words)-1] != "&" {
				t.Fatalf("README: %q does not run the provider in the background", line)
			}
			goRun = words[1 : len(words)-1]
			for i, w := range goRun {
				goRun[i] = strings.ReplaceAll(w, "http://127.0.0.1:8080", srv.url)
			}
			startProvider(goRun)
		case strings.HasPrefix(line, "curl "):
			words, comment := readmetest.Words(t, line, vars)
			want := readmetest.Expectations(comment)
			deadline := time.Now().Add(90 * time.Second) // go run compiles the provider first
			for {
				status, body := readmetest.Curl(t, repo, srv.url, words)
				got := readmetest.Compact(body)
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
		_, body := readmetest.Curl(t, repo, srv.url, []string{"curl", "--oauth2-bearer", client, "localhost:8080/runs/" + id})
		var st map[string]any
		_ = json.Unmarshal([]byte(body), &st)
		return st
	}
	waitUntil(t, "the run of the walk-through to be done", func() bool { return runState(started)["state"] == "done" })
	if !strings.Contains(providerLog.String(), "reconcile 12.5 (key "+started+"/") {
		t.Errorf("the provider did not log the call:\n%s", providerLog.String())
	}
	start := func(body string) string {
		status, out := readmetest.Curl(t, repo, srv.url, []string{"curl", "--oauth2-bearer", client, "--json", body, "localhost:8080/rpc/Billing.Start"})
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
	if status, body := readmetest.Curl(t, repo, srv.url, []string{"curl", "--oauth2-bearer", vars["ADMIN"], "localhost:8080/providers"}); status != 200 || readmetest.Compact(body) != `{"providers":[]}` {
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
