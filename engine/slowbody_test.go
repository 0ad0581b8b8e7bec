package engine

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"testing"
	"time"
)

// A body that does not arrive before the server's read timeout is a 408
// that says so, not a 400 quoting the socket ("reading request body: read
// tcp 127.0.0.1:8080->...: i/o timeout"), which a client takes for a
// request it must change, and an operator for a network fault. Nothing is
// started from the part that came.
func TestSlowBodyIsATimeout(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptest.NewUnstartedServer(e.Handler())
	srv.Config.ReadTimeout = 100 * time.Millisecond // the client below never sends the rest
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "POST /flows/Signup/runs?run_id=slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Customer\":"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body) // what came before the connection closed
	const want = "the request body did not all arrive before the server's read timeout"
	if res.StatusCode != http.StatusRequestTimeout || !bytes.Contains(b, []byte(want)) || bytes.Contains(b, []byte("tcp")) {
		t.Fatalf("a body cut by the read timeout: %d %s; want 408 saying %q, not the socket's error", res.StatusCode, b, want)
	}
	if _, err := fx.st.Load("slow"); err == nil {
		t.Fatal("a run started from the part of the body that came")
	}
}
