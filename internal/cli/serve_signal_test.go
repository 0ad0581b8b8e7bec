//go:build unix

package cli

import (
	"bytes"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// eventually polls cond until it holds or the test's patience ends.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUpTo(t, 20*time.Second, what, cond)
}

// waitUpTo polls cond until it holds, for at most patience.
func waitUpTo(t *testing.T, patience time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A SIGHUP to the process makes serve read its token file again; a bad
// file is logged and the tokens in use stay. (serve installs its SIGHUP
// handler before it reports that it listens, so the signal cannot kill
// the test.)
func TestServeReloadsTokensOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	tokens := writeFile(t, filepath.Join(dir, "tokens"), "admin "+serveAdmin+"\n")
	url, logs, stop := serveWith(t, serveConfig{store: filepath.Join(dir, "store"), net: listen.Config{Addr: "127.0.0.1:0", Tokens: tokens}})
	defer stop()
	status := func(token string) int {
		code, _, _ := request(t, http.DefaultClient, "GET", url+"/flows", token, "", "")
		return code
	}
	if status(serveAdmin) != 200 || status(serveClient) != 401 {
		t.Fatal("before SIGHUP")
	}
	writeFile(t, tokens, "client "+serveClient+"\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new tokens", func() bool { return status(serveClient) == 200 })
	if status(serveAdmin) != 401 {
		t.Fatal("the removed token still works")
	}
	writeFile(t, tokens, "client "+serveClient+"\nclient "+serveClient+"\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the log of a bad reload", func() bool {
		return strings.Contains(logs.String(), "tokens not reloaded, the old ones stay") && strings.Contains(logs.String(), "the token of line 1 again")
	})
	if status(serveClient) != 200 {
		t.Fatal("a bad file dropped the tokens in use")
	}
}

// flowgen serve -insecure listens on every interface without tokens, and
// stops on SIGINT.
func TestServeInsecureStarts(t *testing.T) {
	dir := t.TempDir()
	var outb bytes.Buffer
	errb := &logtest.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "-store", filepath.Join(dir, "s"), "-addr", "0.0.0.0:0", "-insecure"}, nil, &outb, errb)
	}()
	eventually(t, "serve -insecure to listen", func() bool {
		select {
		case code := <-done:
			t.Fatalf("serve -insecure: exit %d:\n%s", code, errb.String())
		default:
		}
		return strings.Contains(errb.String(), `msg="flowgen serve"`)
	})
	if !strings.Contains(errb.String(), "OPEN TO ALL") {
		t.Errorf("no warning:\n%s", errb.String())
	}
	// The verb's SIGINT handler is installed before serve logs that it listens.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGINT")
	}
}

// serve -tokens (or -tls-cert, -tls-key) naming a named pipe is the
// command line's mistake, said at once (exit 2): before, serve opened it
// and waited for a writer, and SIGTERM waited with it. A symbolic link
// to a regular file (a Kubernetes secret) serves. A SIGHUP that finds a
// named pipe in the file's place logs why and keeps the tokens in use,
// without waiting on it.
func TestServeTokenFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, args := range [][]string{{"-tokens", fifo}, {"-tls-cert", fifo, "-tls-key", fifo}} {
		done := make(chan int, 1)
		var outb, errb bytes.Buffer
		go func() {
			done <- Main(append([]string{"serve", "-store", filepath.Join(dir, "s"), "-addr", "127.0.0.1:0"}, args...), nil, &outb, &errb)
		}()
		select {
		case code := <-done:
			if code != 2 || !strings.Contains(errb.String(), "-"+strings.TrimPrefix(args[0], "-")+": "+fifo+" is a named pipe (FIFO), not a regular file") {
				t.Errorf("serve %v: exit %d, stderr:\n%s\nwant exit 2 and why", args, code, errb.String())
			}
		case <-time.After(10 * time.Second):
			// Let the blocked open return, so that the test ends.
			if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				w.Close()
			}
			t.Fatalf("serve %v waits on the named pipe", args)
		}
	}
	secret := writeFile(t, filepath.Join(dir, "secret"), "admin "+serveAdmin+"\n")
	tokens := filepath.Join(dir, "tokens")
	if err := os.Symlink(secret, tokens); err != nil {
		t.Fatal(err)
	}
	url, logs, stop := serveWith(t, serveConfig{store: filepath.Join(dir, "store"), net: listen.Config{Addr: "127.0.0.1:0", Tokens: tokens}})
	defer stop()
	status := func(token string) int {
		code, _, _ := request(t, http.DefaultClient, "GET", url+"/flows", token, "", "")
		return code
	}
	if status(serveAdmin) != 200 {
		t.Fatal("the token of a file behind a symbolic link does not work")
	}
	if err := os.Remove(tokens); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fifo, tokens); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the log of a refused reload", func() bool {
		return strings.Contains(logs.String(), "tokens not reloaded, the old ones stay") && strings.Contains(logs.String(), "is a named pipe (FIFO)")
	})
	if status(serveAdmin) != 200 {
		t.Fatal("a named pipe dropped the tokens in use")
	}
}
