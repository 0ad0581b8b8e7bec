package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/conntest"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/testcert"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// serve takes flowgen serve's listening flags and refuses what it
// refuses, before it dials Temporal.
func TestServeRefusesUnsafeListening(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-addr", "0.0.0.0:0"}, "is not a loopback address"},
		{[]string{"-tls-cert", "cert.pem"}, "-tls-cert and -tls-key go together"},
		{[]string{"-read-timeout", "0s"}, "-read-timeout must be positive"},
		// An empty -tokens ("$UNSET") is not -tokens left out, which
		// serves the API open: flowgen serve's rule (flagerr.PathVar).
		{[]string{"-tokens", ""}, `invalid value "" for flag -tokens: the flag is empty`},
		{[]string{"-tls-cert", "", "-tls-key", ""}, `invalid value "" for flag -tls-cert: the flag is empty`},
		{[]string{"-flows", ""}, `invalid value "" for flag -flows: the flag is empty`},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"serve", "-temporal", "127.0.0.1:1", "-flows", t.TempDir()}, tc.args...), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

// A cluster that does not answer at start is an error that names it, with
// exit status 1, before anything listens: the process does not wait for
// the cluster, nor serve an API whose runs could not start.
func TestServeClusterUnreachable(t *testing.T) {
	cluster := conntest.ClosedPort(t)
	var out, errb bytes.Buffer
	code := run([]string{"serve", "-temporal", cluster, "-flows", t.TempDir(), "-addr", "127.0.0.1:0"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "flowgen-temporal serve: the Temporal cluster at "+cluster+" cannot be reached: ") || !strings.Contains(errb.String(), "connection refused") || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing listening, the cluster named and gRPC's why", code, out.String(), errb.String())
	}
}

// A cluster whose host name does not resolve is said so, not only in
// gRPC's words ("no children to pick from"). A name under .invalid never
// resolves (RFC 6761): with no network at all the lookup fails too.
func TestServeClusterHostDoesNotResolve(t *testing.T) {
	const cluster = "no-such-host.invalid:7233"
	var out, errb bytes.Buffer
	code := run([]string{"serve", "-temporal", cluster, "-flows", t.TempDir(), "-addr", "127.0.0.1:0"}, &out, &errb)
	want := `flowgen-temporal serve: the Temporal cluster at ` + cluster + ` cannot be reached: the host name "no-such-host.invalid" does not resolve (`
	if code != 1 || !strings.Contains(errb.String(), want) || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing listening, and %q", code, out.String(), errb.String(), want)
	}
}

// Serve without -flows is a usage error (exit 2) that says why and what to
// do, before it dials the cluster or listens. Temporal keeps the runs and
// the schedules a flow starts, not the flow: PUT /flows answered 200
// (warning memory-only) for a definition the next start forgot, while its
// runs and schedules lived on. Before, this dialled the cluster (exit 1,
// "cannot be reached": nothing listens on its port).
func TestServeRequiresFlows(t *testing.T) {
	cluster := conntest.ClosedPort(t)
	var out, errb bytes.Buffer
	code := run([]string{"serve", "-temporal", cluster, "-addr", "127.0.0.1:0"}, &out, &errb)
	got := errb.String()
	if code != 2 || strings.Contains(got, "cannot be reached") || out.Len() != 0 {
		t.Fatalf("serve without -flows: exit %d, stdout %q, stderr %q; want 2, nothing dialled or listening", code, out.String(), got)
	}
	for _, want := range []string{"flowgen-temporal serve: -flows DIR is required: ", "PUT /flows", "docs/temporal.md#json-flows-on-temporal"} {
		if !strings.Contains(got, want) {
			t.Errorf("serve without -flows: stderr %q; want %q", got, want)
		}
	}
}

// A flag of flowgen serve's embedded store (as flowgen serve -temporal
// passes on) is a usage error that says why it is not one here, without
// the manual after it; -h prints the manual and exits 0.
func TestServeRefusesStoreFlags(t *testing.T) {
	for _, flag := range []string{"-store", "-retain", "-max-running"} {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "-temporal", "127.0.0.1:1", flag, "1"}, &out, &errb)
		got := errb.String()
		if code != 2 || !strings.Contains(got, "not defined: "+flag+"\n") || !strings.Contains(got, "docs/temporal.md#json-flows-on-temporal") || strings.Contains(got, "-addr ADDR") {
			t.Errorf("serve %s: exit %d, stderr %q; want 2, the flag, why, and not the manual", flag, code, got)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-addr ADDR") {
		t.Errorf("serve -h: exit %d, stderr %q; want 0 and the manual", code, errb.String())
	}
}

// A mistyped flag of serve's own gets the closest one, as under flowgen,
// not the word about flowgen serve's store flags, which would send its
// user looking in the wrong place.
func TestServeSuggestsClosestFlag(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"serve", "-temporal", "127.0.0.1:1", "-tokenz", "x"}, &out, &errb)
	got := errb.String()
	if code != 2 || !strings.Contains(got, "not defined: -tokenz; did you mean -tokens?") || strings.Contains(got, "docs/temporal.md") {
		t.Errorf("serve -tokenz: exit %d, stderr %q; want 2 and did you mean -tokens, not the store flags' word", code, got)
	}
}

// With -tokens, -tls-cert and -tls-key, the API is served over HTTPS and
// wants a bearer token, as flowgen serve's does.
func TestServeTLSWithTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	dir := t.TempDir()
	certFile, keyFile, pool := testcert.SelfSigned(t, dir, "flowgen-temporal-test")
	tokens := filepath.Join(dir, "tokens")
	const admin = "admin-token-0123456789"
	if err := os.WriteFile(tokens, []byte("admin "+admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "tls-test",
		flows: t.TempDir(), net: listen.Config{Tokens: tokens, TLSCert: certFile, TLSKey: keyFile}})
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("url %s", s.url)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(token string) int {
		req, _ := http.NewRequest("GET", s.url+"/flows", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
			t.Fatalf("TLS state %+v", res.TLS)
		}
		return res.StatusCode
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Errorf("GET /flows without a token: %d, want 401", code)
	}
	if code := get(admin); code != http.StatusOK {
		t.Errorf("GET /flows with the admin token: %d, want 200", code)
	}
}

// Asking the command for help is not a usage error: -h, -help, --help and
// help print the usage and exit 0, as under flowgen; no command is a
// usage error (exit 2), and another command is named as unknown first.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"--help"}, {"help"}, {}, {"serv"}} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		want := 0
		if len(args) == 0 || args[0] == "serv" {
			want = 2
		}
		prefix := "usage: flowgen-temporal serve"
		if len(args) > 0 && args[0] == "serv" {
			prefix = "flowgen-temporal: unknown command \"serv\"\n" + prefix
		}
		if code != want || !strings.HasPrefix(errb.String(), prefix) {
			t.Errorf("flowgen-temporal %q: exit %d, stderr %q; want %d and the usage", args, code, errb.String(), want)
		}
	}
}

// Every flag's line in serve -h names what it takes (-flows DIR), never
// the flag package's "value", as under flowgen (cli's
// TestFlagsNameTheirArgument): it read "-flows value", "-service value".
func TestHelpNamesFlagArguments(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "-h"}, &out, &errb); code != 0 {
		t.Fatalf("serve -h: exit %d", code)
	}
	for line := range strings.Lines(errb.String()) {
		if f := strings.Fields(line); strings.HasPrefix(line, "  -") && len(f) == 2 && f[1] == "value" {
			t.Errorf("serve -h: %q: name what it takes in backquotes in its usage", strings.TrimSpace(line))
		}
	}
}

// An empty -task-queue is a usage error: the runs would start on
// jsonflows' default queue while the worker polled "", which Temporal
// refuses, so the process served the API and never moved a run.
func TestServeRefusesEmptyTaskQueue(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"serve", "-temporal", "127.0.0.1:1", "-flows", t.TempDir(), "-task-queue", ""}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "-task-queue must not be empty") {
		t.Errorf("serve -task-queue '': exit %d, stderr %q; want 2 and why", code, errb.String())
	}
}

// -temporal without a port, or with one that is not a port, is a usage
// error (exit 2) that says HOST:PORT, before anything dials: the SDK took
// `-temporal localhost` for gRPC's port 443 and failed to reach a cluster
// there (exit 1). A gRPC target naming its resolver is the SDK's too.
func TestServeRefusesClusterAddressWithoutPort(t *testing.T) {
	for _, addr := range []string{"localhost", "127.0.0.1", "localhost:", "localhost:temporal", "localhost:0", "localhost:70000", "::::"} {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "-temporal", addr, "-addr", "127.0.0.1:0"}, &out, &errb)
		want := fmt.Sprintf("flowgen-temporal serve: -temporal %q: want HOST:PORT, such as localhost:7233", addr)
		if code != 2 || !strings.Contains(errb.String(), want) || out.Len() != 0 {
			t.Errorf("serve -temporal %s: exit %d, stdout %q, stderr %q; want 2 and %q", addr, code, out.String(), errb.String(), want)
		}
	}
	for _, addr := range []string{"localhost:7233", "[::1]:7233", ":7233", "dns:///localhost:7233"} {
		if err := clusterAddrError(addr); err != nil {
			t.Errorf("-temporal %s: %v; want it taken", addr, err)
		}
	}
}

// An empty -namespace is a usage error: the SDK took it for "default",
// while serve's namespace check and its logs named "", and a cluster
// without "default" failed only at the worker's start, after -flows.
func TestServeRefusesEmptyNamespace(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"serve", "-temporal", "127.0.0.1:1", "-flows", t.TempDir(), "-namespace", ""}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "-namespace must not be empty") {
		t.Errorf("serve -namespace '': exit %d, stderr %q; want 2 and why", code, errb.String())
	}
}
