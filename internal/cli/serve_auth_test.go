package cli

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/testcert"
)

const (
	serveAdmin  = "admin-token-0123456789"
	serveClient = "client-token-0123456789"
)

func writeFile(t *testing.T, path, src string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// request sends a request with a bearer token and a Content-Type (each
// left out if "") and returns the status, the headers and the body.
func request(t *testing.T, c *http.Client, method, url, token, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// serve -tokens: every route of the engine's table needs a token, a client
// may not define flows, an admin may; the echo service needs none; bodies
// must be JSON.
func TestServeTokens(t *testing.T) {
	dir := t.TempDir()
	tokens := writeFile(t, filepath.Join(dir, "tokens"), "# test\nadmin "+serveAdmin+"\nclient "+serveClient+"\n")
	url, _, stop := serveWith(t, serveConfig{store: filepath.Join(dir, "store"), flows: filepath.Join(dir, "flows"), net: listen.Config{Addr: "127.0.0.1:0", Tokens: tokens}})
	defer stop()
	c := http.DefaultClient
	for _, rt := range engine.Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = strings.NewReplacer("{flow}", "Greet", "{endpoint}", "Greet.Start", "{id}", "r1", "{topic}", "t", "{event}", "e").Replace(path)
		status, h, body := request(t, c, method, url+path, "", "application/json", "{}")
		if rt.Need == engine.RolePublic { // the web view's files
			if status != http.StatusOK {
				t.Errorf("%s without a token: %d, want 200", rt.Pattern, status)
			}
			continue
		}
		if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without a token: %d %s, WWW-Authenticate %q", rt.Pattern, status, body, h.Get("WWW-Authenticate"))
		}
	}
	steps := []struct {
		method, path, token, contentType, body string
		status                                 int
	}{
		{"PUT", "/flows", serveClient, "application/json", serveFlow, 403},
		{"PUT", "/flows", serveAdmin, "text/plain", serveFlow, 415},
		{"PUT", "/flows", serveAdmin, "application/json", serveFlow, 200},
		{"GET", "/flows/Greet", serveClient, "", "", 200},
		{"POST", "/rpc/Greet.Start", serveClient, "application/json", `{"Name": "ada"}`, 201},
		{"POST", "/rpc/Greet.Start", "wrong-token-0123456789", "application/json", `{"Name": "bob"}`, 401},
		{"POST", "/echo/Customer.Create", "", "application/json", `{"echo": 1}`, 200},
		{"POST", "/echo/Customer.Create", "", "application/x-www-form-urlencoded", `echo=1`, 415},
		// Another method is the wrong method for the echo, as for the
		// API's routes, not a path no route has.
		{"GET", "/echo/Customer.Create", "", "", "", 405},
		{"PUT", "/echo/Customer.Create", "", "application/json", `{}`, 405},
	}
	for _, s := range steps {
		status, h, body := request(t, c, s.method, url+s.path, s.token, s.contentType, s.body)
		if status != s.status {
			t.Errorf("%s %s (token %q, %s): %d %s, want %d", s.method, s.path, s.token, s.contentType, status, body, s.status)
		}
		// Every answer, the echo's of a caller's body included, is only
		// what its Content-Type says.
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options %q, want nosniff", s.method, s.path, got)
		}
		if status == http.StatusMethodNotAllowed && (h.Get("Allow") != "POST" || !strings.Contains(body, "not allowed")) {
			t.Errorf("%s %s: Allow %q, %s; want the allowed method, POST", s.method, s.path, h.Get("Allow"), body)
		}
		if s.path == "/echo/Customer.Create" && status == 200 && body != s.body {
			t.Errorf("echo answered %q", body)
		}
	}
}

func TestServeRefusesOpenNonLoopback(t *testing.T) {
	dir := t.TempDir()
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "example.com:0", "10.1.2.3:8080"} {
		var outb, errb bytes.Buffer
		code := Main([]string{"serve", "-store", filepath.Join(dir, "s"), "-addr", addr}, nil, &outb, &errb)
		if code != 2 || !strings.Contains(errb.String(), "is not a loopback address") || !strings.Contains(errb.String(), "-tokens FILE") || !strings.Contains(errb.String(), "-insecure") {
			t.Errorf("-addr %s: exit %d, stderr:\n%s", addr, code, errb.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "s")); err == nil {
		t.Error("a refused serve created its store")
	}
	for _, tc := range []struct {
		addr             string
		tokens, insecure bool
		ok               bool
	}{
		{"127.0.0.1:8080", false, false, true},
		{"localhost:8080", false, false, true},
		{"[::1]:8080", false, false, true},
		{"127.0.0.2:0", false, false, true},
		{":8080", false, false, false},
		{":8080", true, false, true},
		{":8080", false, true, true},
		{"8080", true, true, false},
	} {
		if err := listen.CheckExposure(tc.addr, tc.tokens, tc.insecure); (err == nil) != tc.ok {
			t.Errorf("listen.CheckExposure(%q, tokens %v, insecure %v): %v", tc.addr, tc.tokens, tc.insecure, err)
		}
	}
	// -insecure serves it open, and says so.
	url, logs, stop := serveWith(t, serveConfig{store: filepath.Join(dir, "s2"), net: listen.Config{Addr: "0.0.0.0:0", Insecure: true}})
	url = strings.Replace(url, "0.0.0.0", "127.0.0.1", 1)
	if status, _, body := request(t, http.DefaultClient, "GET", url+"/flows", "", "", ""); status != 200 {
		t.Errorf("-insecure: %d %s", status, body)
	}
	stop()
	if !strings.Contains(logs.String(), "OPEN TO ALL (-insecure)") {
		t.Errorf("-insecure does not warn:\n%s", logs.String())
	}
	// Without it, serve checks what it listens on too, whatever the name.
	err := serve(t.Context(), serveConfig{store: filepath.Join(dir, "s3"), stderr: io.Discard, net: listen.Config{Addr: "0.0.0.0:0"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("serve on 0.0.0.0 without -tokens: %v", err)
	}
}

func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-tls-cert", "c.pem"}, 2, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-key", "k.pem"}, 2, "-tls-cert and -tls-key go together"},
		{[]string{"-addr", "127.0.0.1:99999"}, 2, `-addr "127.0.0.1:99999": `},
		{[]string{"-addr", "127.0.0.1:-1"}, 2, `-addr "127.0.0.1:-1": `},
		{[]string{"-tokens", filepath.Join(dir, "missing")}, 1, "reading tokens"},
		{[]string{"-tokens", writeFile(t, filepath.Join(dir, "bad"), "root x\n")}, 1, `bad:1: unknown role "root"`},
		{[]string{"-tls-cert", filepath.Join(dir, "c.pem"), "-tls-key", filepath.Join(dir, "k.pem")}, 1, "TLS key pair"},
		// An empty path flag (-tokens "$UNSET") is not the flag left out:
		// -tokens "" served the API open, without a word.
		{[]string{"-tokens", ""}, 2, `invalid value "" for flag -tokens: the flag is empty`},
		{[]string{"-tokens="}, 2, `invalid value "" for flag -tokens: the flag is empty`},
		{[]string{"-tls-cert", "", "-tls-key", ""}, 2, `invalid value "" for flag -tls-cert: the flag is empty`},
		{[]string{"-tls-key", ""}, 2, `invalid value "" for flag -tls-key: the flag is empty`},
		{[]string{"-flows", ""}, 2, `invalid value "" for flag -flows: the flag is empty`},
		{[]string{"-store", ""}, 2, `invalid value "" for flag -store: the flag is empty`},
		// The same for the flags whose empty value was taken for another:
		// -nats "$UNSET" ran on the in-process broker, and -id "$UNSET" as
		// the engine's ID "engine", not the flag's default "serve" (another
		// await consumer on NATS), each without a word.
		{[]string{"-nats", ""}, 2, `invalid value "" for flag -nats: the flag is empty`},
		{[]string{"-id", ""}, 2, `invalid value "" for flag -id: the flag is empty`},
	} {
		var outb, errb bytes.Buffer
		code := Main(append([]string{"serve", "-store", filepath.Join(dir, "s"), "-addr", "127.0.0.1:0"}, tc.args...), nil, &outb, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

// serve -tls-cert -tls-key serves HTTPS (with tokens too), and plain HTTP
// is refused.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := testcert.SelfSigned(t, dir, "flowgen-test")
	tokens := writeFile(t, filepath.Join(dir, "tokens"), "admin "+serveAdmin+"\n")
	url, _, stop := serveWith(t, serveConfig{store: filepath.Join(dir, "store"), net: listen.Config{Addr: "127.0.0.1:0", Tokens: tokens, TLSCert: certFile, TLSKey: keyFile}})
	defer stop()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s", url)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	if status, _, body := request(t, c, "PUT", url+"/flows", serveAdmin, "application/json", serveFlow); status != 200 {
		t.Fatalf("PUT /flows over TLS: %d %s", status, body)
	}
	if status, _, _ := request(t, c, "GET", url+"/flows", "", "", ""); status != 401 {
		t.Fatalf("GET /flows over TLS without a token: %d", status)
	}
	res, err := c.Get(url + "/flows")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %+v", res.TLS)
	}
	plain := "http://" + strings.TrimPrefix(url, "https://")
	if status, _, _ := request(t, http.DefaultClient, "GET", plain+"/flows", serveAdmin, "", ""); status != http.StatusBadRequest {
		t.Fatalf("plain HTTP to the TLS port: %d, want 400", status)
	}
}
