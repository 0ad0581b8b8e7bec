// Package conntest holds what tests of connections share: that a server
// bounds the connections it serves at once (MaxTwo), and an address whose
// connections are refused (ClosedPort).
package conntest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// MaxTwo checks that the server at addr serves no more than two
// connections at once: with two open (each served request, a raw HTTP/1.1
// request that must be answered 200, then idle on keep-alive), a third
// connects (the kernel's backlog takes it) but gets no answer until one
// of the two closes. Its "no answer" is a read that times out after
// 300ms: a server too slow to answer within it would pass, never fail.
func MaxTwo(t *testing.T, addr, request string) {
	t.Helper()
	// send sends the request on conn and reads its answer within d.
	send := func(conn net.Conn, br *bufio.Reader, d time.Duration) error {
		if _, err := io.WriteString(conn, request); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(d))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		_, err = io.Copy(io.Discard, res.Body)
		if err == nil && res.StatusCode != http.StatusOK {
			err = fmt.Errorf("answer %d", res.StatusCode)
		}
		return err
	}
	var conns [3]net.Conn
	var readers [3]*bufio.Reader
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i], readers[i] = c, bufio.NewReader(c)
	}
	for i := range 2 {
		if err := send(conns[i], readers[i], 10*time.Second); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
	}
	var ne net.Error
	if err := send(conns[2], readers[2], 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a third connection beyond a bound of 2: %v, want no answer (a timeout)", err)
	}
	conns[0].Close()
	// The request already sent is answered once the server accepts the
	// connection.
	_ = conns[2].SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(readers[2], nil)
	if err != nil {
		t.Fatalf("the third connection once the first closed: %v", err)
	}
	res.Body.Close()
}

// ClosedPort is a loopback address nothing listens on, whose connections
// are refused: a port the kernel gave, closed again.
func ClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
