package cli

import (
	"bufio"
	"github.com/flowgen/flowgen/internal/listen"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// closedWithin reads conn until it is closed by the server and returns how
// long that took since start, failing if it is still open after max. start
// must come before whatever starts the server's timer: the test may be
// descheduled between that and the read, for longer than the timeout's
// margin on a loaded machine.
func closedWithin(t *testing.T, conn net.Conn, r io.Reader, start time.Time, max time.Duration) time.Duration {
	t.Helper()
	_ = conn.SetReadDeadline(start.Add(max))
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("the server did not close the connection within %v: %v", max, err)
	}
	return time.Since(start)
}

// dialServe starts serve with lim and opens a connection to it, and
// returns it with the time just before the dial; both end with the test.
func dialServe(t *testing.T, lim listen.Limits) (net.Conn, time.Time) {
	t.Helper()
	url, _, stop := serveWith(t, serveConfig{store: t.TempDir(), net: listen.Config{Addr: "127.0.0.1:0", Limits: lim}})
	t.Cleanup(stop)
	dialed := time.Now()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, dialed
}

// A client that sends its body too slowly is cut off after -read-timeout.
func TestServeReadTimeoutCutsSlowBody(t *testing.T) {
	// The read timeout runs from the server's first read, after the dial.
	conn, dialed := dialServe(t, listen.Limits{ReadTimeout: 300 * time.Millisecond})
	// 1000 bytes announced, 10 sent, then nothing.
	_, err := io.WriteString(conn, "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n\"abcdefgh")
	if err != nil {
		t.Fatal(err)
	}
	took := closedWithin(t, conn, conn, dialed, 5*time.Second)
	if took < 200*time.Millisecond {
		t.Errorf("cut off after %v, before the read timeout", took)
	}
}

// A keep-alive connection left idle is closed after -idle-timeout.
func TestServeIdleTimeoutClosesKeepAlive(t *testing.T) {
	conn, _ := dialServe(t, listen.Limits{IdleTimeout: 300 * time.Millisecond})
	// The idle timeout runs from the server's answer, after the request.
	sent := time.Now()
	if _, err := io.WriteString(conn, "GET /flows HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /flows: %d, close %v", resp.StatusCode, resp.Close)
	}
	took := closedWithin(t, conn, br, sent, 5*time.Second)
	if took < 200*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", took)
	}
}

// Headers beyond -max-header-bytes answer 431; a body beyond -max-body 413.
func TestServeSizeLimits(t *testing.T) {
	url, _, stop := serveWith(t, serveConfig{store: t.TempDir(),
		net: listen.Config{Addr: "127.0.0.1:0", Limits: listen.Limits{MaxHeaderBytes: 1 << 10}}, limits: serverLimits{maxBody: 100}})
	defer stop()
	req, _ := http.NewRequest("GET", url+"/flows", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 8<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("8 KiB of headers: %d, want 431", resp.StatusCode)
	}
	body := `{"a": "` + strings.Repeat("x", 200) + `"}`
	resp, err = http.Post(url+"/events/t/e", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /events/t/e of %d bytes: %d, want 413", len(body), resp.StatusCode)
	}
	// The echo service too: refused whole, not echoed cut short.
	resp, err = http.Post(url+"/echo/x", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /echo/x of %d bytes: %d, want 413", len(body), resp.StatusCode)
	}
}

func TestServeLimitFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"-read-timeout", "0s"}, {"-idle-timeout", "-1s"}, {"-max-body", "0"}, {"-max-header-bytes", "0"}, {"-service-conns", "0"}, {"-max-running", "0"}, {"-resume-workers", "-1"}, {"-event-workers", "0"}, {"-broker-bytes", "0"}, {"-broker-max-age", "0s"}, {"-broker-max-age", "1h"}, {"-broker-max-age", "50ms", "-nats", "nats://127.0.0.1:1"}, {"-inbox-bytes", "0"}, {"-inbox-retention", "0s"}, {"-max-dead-letters", "0"}, {"-watch-buffer", "0"}, {"-watch-bytes", "-1"}} {
		var stdout, stderr strings.Builder
		code := Main(append([]string{"serve", "-store", t.TempDir(), "-addr", "127.0.0.1:0"}, args...), nil, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), args[0]) || strings.Contains(stderr.String(), "not defined") {
			t.Errorf("serve %v: exit %d, %q; want 2 naming %s, a flag of serve", args, code, stderr.String(), args[0])
		}
	}
}

// GET /watch streams take at most half of -max-conns' places: with 6, the
// fourth stream is refused with 503 while the API still answers on the
// places left. Without the cap, 64 streams could hold every place.
func TestServeWatchersLeaveConnectionsForTheAPI(t *testing.T) {
	url, _, stop := serveWith(t, serveConfig{store: t.TempDir(),
		net: listen.Config{Addr: "127.0.0.1:0", Limits: listen.Limits{MaxConns: 6}}})
	defer stop()
	watch := func() *http.Response {
		t.Helper()
		// A client of its own per stream: one connection each, closed
		// with the stream.
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := c.Get(url + "/watch")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := range 3 {
		if resp := watch(); resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
	resp := watch()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("stream 4 with -max-conns 6: %d, want 503", resp.StatusCode)
	}
	resp.Body.Close()
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url + "/flows")
	if err != nil {
		t.Fatalf("GET /flows with 3 streams open: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /flows with 3 streams open: %d", res.StatusCode)
	}
}

// POST /echo needs no token, so it reads at most -service-conns bodies at
// once: anyone who reaches the port could otherwise have each connection
// hold a body of -max-body in memory. A request beyond waits, its body
// unread (no 100 Continue), until one of them ends.
func TestServeEchoReadsBoundedBodies(t *testing.T) {
	url, _, stop := serveWith(t, serveConfig{store: t.TempDir(), net: listen.Config{Addr: "127.0.0.1:0"}, limits: serverLimits{serviceConns: 2}})
	t.Cleanup(stop) // after the connections close (cleanups run last first): the waiting requests end with them
	type client struct {
		conn net.Conn
		br   *bufio.Reader
	}
	open := func() client {
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := io.WriteString(conn, "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		return client{conn, bufio.NewReader(conn)}
	}
	// continued reports whether the server asked for c's body within d.
	continued := func(c client, d time.Duration) bool {
		_ = c.conn.SetReadDeadline(time.Now().Add(d))
		line, err := c.br.ReadString('\n')
		if err != nil {
			return false
		}
		if !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("got %q, want 100 Continue", line)
		}
		_, _ = c.br.ReadString('\n') // the blank line after it
		return true
	}
	a, b := open(), open()
	for _, c := range []client{a, b} {
		if !continued(c, 5*time.Second) {
			t.Fatal("a body within -service-conns was not read")
		}
	}
	c := open()
	if continued(c, 300*time.Millisecond) {
		t.Fatal("a third body was read while -service-conns 2 were being read")
	}
	if _, err := io.WriteString(a.conn, "{}"); err != nil {
		t.Fatal(err)
	}
	_ = a.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(a.br, nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the first echo: %v, %v", res, err)
	}
	res.Body.Close()
	if !continued(c, 5*time.Second) {
		t.Fatal("the third body was not read once the first echo ended")
	}
}
