package listen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/flowgen/flowgen/internal/conntest"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/internal/testcert"
)

const adminToken = "admin-token-0123456789"

func writeFile(t *testing.T, path, src string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// What SIGHUP runs: the token file and the key pair are read again; a bad
// one is logged and the old one stays.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	tokens := writeFile(t, filepath.Join(dir, "tokens"), "admin "+adminToken+"\n")
	certFile, keyFile, _ := testcert.SelfSigned(t, dir, "first")
	var logs bytes.Buffer
	s, err := New(Config{Addr: "127.0.0.1:0", Tokens: tokens, TLSCert: certFile, TLSKey: keyFile}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	subject := func() string {
		c, _ := s.cert.get(nil)
		x, _ := x509.ParseCertificate(c.Certificate[0])
		return x.Subject.CommonName
	}
	writeFile(t, tokens, "admin "+adminToken+"\nclient client-token-0123456789\n")
	testcert.SelfSigned(t, dir, "second")
	s.reload()
	if s.auth.Len() != 2 || subject() != "second" || !strings.Contains(logs.String(), "tokens reloaded") {
		t.Fatalf("after reload: %d tokens, certificate %s; log:\n%s", s.auth.Len(), subject(), logs.String())
	}
	writeFile(t, tokens, "client short\n")
	writeFile(t, certFile, "not a certificate")
	logs.Reset()
	s.reload()
	if s.auth.Len() != 2 || subject() != "second" {
		t.Fatalf("a bad reload replaced what was in use: %d tokens, certificate %s", s.auth.Len(), subject())
	}
	for _, want := range []string{"tokens not reloaded, the old ones stay", "fewer than 16", "TLS key pair not reloaded, the old one stays"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// Serve serves HTTPS with the key pair, logs its line with the access,
// calls onShutdown and returns once its context ends.
func TestServeTLSAndShutdown(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := testcert.SelfSigned(t, dir, "flowgen-test")
	var logs bytes.Buffer
	s, err := New(Config{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	shut := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(ctx, "test serve", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }),
			func() { close(shut) }, func(a string) { addrc <- a }, "extra", 7)
	}()
	addr := <-addrc
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "hi" || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTPS answer %q, TLS %+v", body, res.TLS)
	}
	for _, want := range []string{"msg=\"test serve\"", "ui=https://" + addr + "/ui/", "tls=true", "access=\"open (loopback)\"", "extra=7"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// http.Server.Shutdown starts the hooks on goroutines of their own and
	// does not wait for them.
	select {
	case <-shut:
	case <-time.After(10 * time.Second):
		t.Error("onShutdown was not called")
	}
}

// Check refuses what cannot serve, or would serve the API open off
// loopback.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Addr: "127.0.0.1:8080", TLSCert: "c.pem"}, "-tls-cert and -tls-key go together"},
		{Config{Addr: "127.0.0.1:8080", Limits: Limits{ReadHeaderTimeout: 1, ReadTimeout: -1, WriteTimeout: 1, IdleTimeout: 1, MaxHeaderBytes: 1}}, "-read-timeout must be positive"},
		{Config{Addr: "127.0.0.1:8080", Limits: Limits{ReadHeaderTimeout: 1, ReadTimeout: 1, WriteTimeout: 1, IdleTimeout: 1, MaxHeaderBytes: 1}}, "-max-conns must be positive, found 0"},
		// One place: a web view's stream would take it, and the API none.
		{Config{Addr: "127.0.0.1:8080", Limits: Limits{ReadHeaderTimeout: 1, ReadTimeout: 1, WriteTimeout: 1, IdleTimeout: 1, MaxHeaderBytes: 1, MaxConns: 1}}, "-max-conns must be at least 2, found 1"},
		{Config{Addr: "127.0.0.1:8080", Limits: Limits{ReadHeaderTimeout: 1, ReadTimeout: 1, WriteTimeout: 1, IdleTimeout: 1, MaxHeaderBytes: 1, MaxConns: 2}}, ""},
		{Config{Addr: ":8080", Limits: Limits{}.withDefaults()}, "is not a loopback address"},
		{Config{Addr: ":8080", Tokens: "t", Limits: Limits{}.withDefaults()}, ""},
		{Config{Addr: "0.0.0.0:8080", Insecure: true, Limits: Limits{}.withDefaults()}, ""},
	} {
		err := tc.c.Check()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

// No more than MaxConns connections are served at once: with two open
// (served, then idle on keep-alive), a third connects (the kernel's
// backlog takes it) but gets no answer until one of the two closes.
func TestServeMaxConns(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Limits: Limits{MaxConns: 2}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := startServe(t, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	conntest.MaxTwo(t, addr, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

func TestMaxWatchers(t *testing.T) {
	for _, c := range []struct{ conns, want int }{{0, 64}, {1024, 64}, {128, 64}, {100, 50}, {6, 3}, {1, 1}} {
		if got := MaxWatchers(c.conns); got != c.want {
			t.Errorf("MaxWatchers(%d) = %d, want %d", c.conns, got, c.want)
		}
	}
}

// A listener on every interface shows a web view URL a browser can open:
// on loopback, with the port, and says it listens on all interfaces.
// Before, the start line showed ui=http://[::]:PORT/ui/.
func TestServeAllInterfacesURL(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
		t.Run(addr, func(t *testing.T) {
			var logs bytes.Buffer
			s, err := New(Config{Addr: addr, Insecure: true}, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			addrc := make(chan string, 1)
			done := make(chan error, 1)
			go func() {
				done <- s.Serve(ctx, "test serve", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }),
					nil, func(a string) { addrc <- a })
			}()
			var bound string
			select {
			case bound = <-addrc:
			case err := <-done:
				t.Skipf("cannot listen on %s here: %v", addr, err)
			}
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Serve: %v", err)
				}
			}()
			_, port, _ := strings.Cut(bound[strings.LastIndex(bound, "]")+1:], ":")
			ui := "http://127.0.0.1:" + port + "/ui/"
			for _, want := range []string{"ui=" + ui, "interfaces=all"} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("start line lacks %s:\n%s", want, logs.String())
				}
			}
			res, err := http.Get(ui)
			if err != nil {
				t.Fatalf("the web view URL of the start line: %v", err)
			}
			res.Body.Close()
		})
	}
}

// Served open on loopback, the API answers requests for this machine
// only: a web page whose name an attacker's DNS rebinds to 127.0.0.1
// reaches the port from the user's browser, same-origin as far as the
// browser knows, but its requests name the page's host; -insecure on a
// loopback address too, which it opens to no other machine (before, it
// turned the check off, while the start line still said "open
// (loopback)"). With tokens, or -insecure on every interface, any Host is
// served (the tokens decide, or the operator chose to serve everyone).
func TestServeOpenAnswersLoopbackHostsOnly(t *testing.T) {
	dir := t.TempDir()
	tokens := writeFile(t, filepath.Join(dir, "tokens"), "admin "+adminToken+"\n")
	for _, tc := range []struct {
		name string
		c    Config
		open bool
	}{
		{"open", Config{Addr: "127.0.0.1:0"}, true},
		{"tokens", Config{Addr: "127.0.0.1:0", Tokens: tokens}, false},
		{"insecure on loopback", Config{Addr: "127.0.0.1:0", Insecure: true}, true},
		{"insecure on every interface", Config{Addr: "0.0.0.0:0", Insecure: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.c, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			addrc := make(chan string, 1)
			done := make(chan error, 1)
			go func() {
				done <- s.Serve(ctx, "test serve", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }),
					nil, func(a string) { addrc <- a })
			}()
			addr := <-addrc
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Serve: %v", err)
				}
			}()
			_, port, _ := strings.Cut(addr, ":")
			for host, loopback := range map[string]bool{
				addr: true, "localhost:" + port: true, "LOCALHOST": true, "[::1]:" + port: true, "127.0.0.2": true,
				"attacker.example:" + port: false, "attacker.example": false, "localhost.attacker.example": false,
				"127.0.0.1.nip.io:" + port: false, "10.0.0.1:" + port: false,
			} {
				req, _ := http.NewRequest("POST", "http://"+addr+"/runs/x/abort", strings.NewReader("{}"))
				req.Host = host
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				served := res.StatusCode == 200 && string(body) == "hi"
				if want := loopback || !tc.open; served != want {
					t.Errorf("Host %s: %d %s, want served %v", host, res.StatusCode, body, want)
				}
				if !served && (res.StatusCode != 403 || !strings.Contains(string(body), "is not this machine")) {
					t.Errorf("Host %s refused with %d %s, want 403 saying why", host, res.StatusCode, body)
				}
			}
		})
	}
}

// A token file that its group or others may read or write is served (a
// setup that worked keeps working), with a warning naming the file and its
// mode, once at start and once at each reload; a 0600 file gets none.
func TestWarnsOfLooseTokenFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	tokens := writeFile(t, filepath.Join(t.TempDir(), "tokens"), "admin "+adminToken+"\n")
	const warning = "the token file may be read or written by others than its owner"
	var logs bytes.Buffer
	s, err := New(Config{Addr: "127.0.0.1:0", Tokens: tokens}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), warning) {
		t.Fatalf("a 0600 token file was warned of:\n%s", logs.String())
	}
	if err := os.Chmod(tokens, 0o644); err != nil {
		t.Fatal(err)
	}
	s.reload()
	if n := strings.Count(logs.String(), warning); n != 1 || !strings.Contains(logs.String(), "file="+tokens) || !strings.Contains(logs.String(), "mode=0644") {
		t.Fatalf("after a reload of a 0644 file, %d warnings, want 1 naming the file and its mode:\n%s", n, logs.String())
	}
	logs.Reset()
	if _, err := New(Config{Addr: "127.0.0.1:0", Tokens: tokens}, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatalf("a 0644 token file stopped the start: %v", err)
	}
	if n := strings.Count(logs.String(), warning); n != 1 || !strings.Contains(logs.String(), "mode=0644") {
		t.Fatalf("at start with a 0644 file, %d warnings, want 1:\n%s", n, logs.String())
	}
}

// Served without tokens, the API refuses what a browser sends for another
// site's page (Sec-Fetch-Site: cross-site): such a page cannot read the
// answers, but its GETs of /watch would hold every stream the web view may
// open. The browser's own pages, programs (no header) and a link followed
// from another site (a top-level navigation) are served. With tokens
// nothing is refused for it: a browser sends no token for another site.
func TestServeOpenRefusesCrossSite(t *testing.T) {
	tokens := writeFile(t, filepath.Join(t.TempDir(), "tokens"), "admin "+adminToken+"\n")
	for _, tc := range []struct {
		name string
		c    Config
		open bool
	}{
		{"open", Config{Addr: "127.0.0.1:0"}, true},
		{"insecure", Config{Addr: "127.0.0.1:0", Insecure: true}, true},
		{"tokens", Config{Addr: "127.0.0.1:0", Tokens: tokens}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.c, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			addrc := make(chan string, 1)
			done := make(chan error, 1)
			go func() {
				done <- s.Serve(ctx, "test serve", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }),
					nil, func(a string) { addrc <- a })
			}()
			addr := <-addrc
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Serve: %v", err)
				}
			}()
			for _, rq := range []struct {
				method, path string
				header       []string // Sec-Fetch-Site, -Mode, -Dest
				crossSite    bool
			}{
				{"GET", "/watch", nil, false},
				{"GET", "/watch", []string{"same-origin", "cors", "empty"}, false},
				{"GET", "/watch", []string{"same-site", "no-cors", "image"}, false},
				{"GET", "/ui/", []string{"none", "navigate", "document"}, false},
				{"GET", "/ui/", []string{"cross-site", "navigate", "document"}, false}, // a link followed
				{"GET", "/watch", []string{"cross-site", "no-cors", "image"}, true},
				{"GET", "/watch", []string{"Cross-Site", "cors", "empty"}, true},
				{"GET", "/ui/", []string{"cross-site", "navigate", "iframe"}, true},
				{"GET", "/runs", []string{"cross-site", "no-cors", "script"}, true},
				{"POST", "/runs/x/abort", []string{"cross-site", "navigate", "document"}, true}, // a form
			} {
				req, _ := http.NewRequest(rq.method, "http://"+addr+rq.path, strings.NewReader("{}"))
				req.Header.Set("Content-Type", "application/json")
				for i, name := range []string{"Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest"} {
					if i < len(rq.header) {
						req.Header.Set(name, rq.header[i])
					}
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				served := res.StatusCode == 200 && string(body) == "hi"
				if want := !rq.crossSite || !tc.open; served != want {
					t.Errorf("%s %s %q: %d %s, want served %v", rq.method, rq.path, rq.header, res.StatusCode, body, want)
				}
				if !served && (res.StatusCode != 403 || !strings.Contains(string(body), "from another site's page")) {
					t.Errorf("%s %s %q refused with %d %s, want 403 saying why", rq.method, rq.path, rq.header, res.StatusCode, body)
				}
			}
		})
	}
}

// An HTTP/2 connection carries at most MaxStreams requests at once, and
// says so in its SETTINGS. Before, it was net/http's unsaid 250: the
// requests in flight, each with a body of up to -max-body, were 250 times
// -max-conns under -tls-cert.
func TestServeHTTP2Streams(t *testing.T) {
	addr, pool := serveTLS(t, io.Discard)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame() // the server's SETTINGS come first
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}
	got, ok := sf.Value(http2.SettingMaxConcurrentStreams)
	if !ok || got != MaxStreams {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (sent: %v), want %d", got, ok, MaxStreams)
	}
}

// A handler that waits AnswerWithin for another service still has time to
// write its answer before the write timeout closes the connection: the
// default's, a short one's, and a very short one's (zero: the default).
func TestAnswerWithinWriteTimeout(t *testing.T) {
	for _, w := range []time.Duration{0, 11 * time.Second, 3 * time.Second, 2 * time.Second, 500 * time.Millisecond} {
		s, err := New(Config{Limits: Limits{WriteTimeout: w}}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		write := s.cfg.Limits.WriteTimeout
		if a := s.AnswerWithin(); a <= 0 || write-a < min(time.Second, write/2) {
			t.Errorf("write timeout %v: AnswerWithin %v leaves less than a second (or half) to answer", write, a)
		}
	}
}

// A SIGHUP sent after New, while the command opens its store and resumes
// its runs, neither ends the process (SIGHUP's default action) nor is
// lost: Serve reloads on it. Before, the handler was installed by Serve
// only, and such a SIGHUP killed the server (the test process here).
func TestSIGHUPBeforeServe(t *testing.T) {
	dir := t.TempDir()
	tokens := writeFile(t, filepath.Join(dir, "tokens"), "admin "+adminToken+"\n")
	var logs logtest.Buffer
	s, err := New(Config{Addr: "127.0.0.1:0", Tokens: tokens}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeFile(t, tokens, "admin "+adminToken+"\nclient client-token-0123456789\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the signal's delivery
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, "test serve", http.NotFoundHandler(), nil, nil) }()
	deadline := time.Now().Add(10 * time.Second)
	for s.auth.Len() != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.auth.Len() != 2 || !strings.Contains(logs.String(), "SIGHUP: tokens reloaded") {
		t.Errorf("the SIGHUP before Serve was not taken: %d tokens; log:\n%s", s.auth.Len(), logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Serve has returned (the command closes its engine now): a SIGHUP
	// still does not end the process.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
}

// The HTTP server's own log lines (a failed TLS handshake: one a
// connection, without credentials) are bounded as the engine's refusals
// are: at most ErrorLogBurst an interval. Before, each connection that
// sent a bad handshake wrote a line, at whatever rate its sender chose.
func TestServeBoundsServerErrorLog(t *testing.T) {
	logs := &logtest.Buffer{}
	addr, _ := serveTLS(t, logs)
	handshakes := func() int { return strings.Count(logs.String(), "TLS handshake error") }
	for range 3 * ErrorLogBurst {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = conn.Write([]byte("\x16\x03\x01\x00\x05hello")) // a handshake record that is not one
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, conn) // until the server closes it, having logged
		conn.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for handshakes() < ErrorLogBurst && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // any line beyond the bound would be there by now
	if n := handshakes(); n != ErrorLogBurst {
		t.Fatalf("%d handshake errors logged of %d, want the bound, %d:\n%s", n, 3*ErrorLogBurst, ErrorLogBurst, logs.String())
	}
}

// serveTLS serves HTTPS (404 to every request) with a self-signed
// certificate until the test ends, logging to log, and returns its
// address and the pool that trusts it.
func serveTLS(t *testing.T, log io.Writer) (string, *x509.CertPool) {
	t.Helper()
	certFile, keyFile, pool := testcert.SelfSigned(t, t.TempDir(), "flowgen-test")
	s, err := New(Config{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return startServe(t, s, http.NotFoundHandler()), pool
}

// startServe serves h on s until the test ends, and returns its address.
func startServe(t *testing.T, s *Server, h http.Handler) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(ctx, "test serve", h, nil, func(a string) { addrc <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return <-addrc
}

// The end of Serve's context (SIGINT or SIGTERM in the commands) is logged
// as it begins, before the wait for open requests and the caller's own
// closing: a stop that takes seconds is not silent.
func TestServeLogsStopping(t *testing.T) {
	var logs logtest.Buffer
	s, err := New(Config{Addr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(ctx, "test serve", http.NotFoundHandler(), nil, func(addr string) { ready <- addr })
	}()
	<-ready
	if strings.Contains(logs.String(), "stopping") {
		t.Fatalf("stopping before the end of the context:\n%s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `msg="test serve: stopping"`) {
		t.Errorf("no stopping line:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "cut") {
		t.Errorf("requests said cut where none was open:\n%s", logs.String())
	}
}

// A request still open when the shutdown's bound passes has its
// connection closed, and its handler's context ends, before Serve
// returns; a warning says so. Serve returned with the connection open and
// the handler running, after which the commands close the engine it uses.
func TestServeCutsRequestsPastShutdownTimeout(t *testing.T) {
	defer func(d time.Duration) { shutdownTimeout = d }(shutdownTimeout)
	shutdownTimeout = 50 * time.Millisecond // a handler that never ends on its own: any bound is passed
	var logs logtest.Buffer
	s, err := New(Config{Addr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	started, ended, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		_ = http.NewResponseController(w).Flush()
		close(started)
		select { // a long answer, which only its connection's end stops
		case <-r.Context().Done():
			close(ended)
		case <-release:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- s.Serve(ctx, "test serve", h, nil, func(a string) { addrc <- a }) }()
	conn, err := net.Dial("tcp", <-addrc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body := bufio.NewReader(res.Body)
	if line, err := body.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("the answer's start: %q %v", line, err)
	}
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Serve has returned: the connection is closed by now. The deadline
	// only keeps the test from hanging where it is not.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(body)
	if ne, ok := errors.AsType[net.Error](err); err == nil || ok && ne.Timeout() {
		t.Fatalf("after Serve returned, reading the answer: %v; want the connection ended", err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler's context did not end")
	}
	if got := logs.String(); !strings.Contains(got, `level=WARN msg="test serve: open requests cut at the shutdown bound: their connections closed" connections=1 after=50ms`) {
		t.Errorf("no warning of the requests cut:\n%s", got)
	}
}
