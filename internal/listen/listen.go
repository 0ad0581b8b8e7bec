// Package listen is the one home of the rule that an API served without
// credentials listens on loopback only: `flowgen serve` and the Temporal
// module's `flowgen-temporal serve` both apply it. What loopback is, is the
// engine's rule (engine.IsLoopbackHost), which its provider allow-list
// uses too.
package listen

import (
	"fmt"
	"net"
	"time"

	"github.com/flowgen/flowgen/engine"
)

// The defaults of the serve commands' HTTP server limits
// (docs/engine.md#limits).
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	// DefaultMaxConns bounds the client connections at a few tens of MB
	// of goroutines and buffers (some 10 to 20 KB each idle, more while a
	// request is read), far above the 64 GET /watch streams the engine
	// allows, and within the open files a process has: Go raises the soft
	// limit to the hard one, which Linux and systemd put at 4096 or more.
	DefaultMaxConns = 1024
)

// MaxWatchers is how many GET /watch streams (engine.Options.MaxWatchers)
// a serve command lets open with maxConns client connections
// (Limits.MaxConns, 0: its default): engine.DefaultMaxWatchers, but at
// most half of the connections, so that streams, each holding its
// connection for as long as it is open, never take every place and leave
// none for the API.
func MaxWatchers(maxConns int) int {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	return max(1, min(engine.DefaultMaxWatchers, maxConns/2))
}

// CheckExposure refuses an address that is not HOST:PORT with a port
// from 0 to 65535 (or a service name), and refuses to serve the API open
// (without tokens) on an address that is not loopback, unless insecure. Loopback is "localhost"
// or a loopback IP; an empty host (":8080") is every interface, and any
// other name may resolve to anything.
func CheckExposure(addr string, tokens, insecure bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", addr, err)
	}
	// A port out of range is the command line's mistake too, said before
	// the store opens, not as a failure to listen once it has.
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("-addr %q: %v", addr, err)
	}
	if tokens || insecure || IsLoopback(host) {
		return nil
	}
	return fmt.Errorf("-addr %s is not a loopback address, and without -tokens anyone who reaches it could define flows, abort runs and read every run's state: give -tokens FILE (see docs/engine.md#access-control), listen on 127.0.0.1, or add -insecure to serve it open anyway", addr)
}

// IsLoopback reports whether host is "localhost" or a loopback IP: the
// engine's rule, which its provider allow-list uses too.
func IsLoopback(host string) bool { return engine.IsLoopbackHost(host) }

// Listen listens on addr (TCP). With open (no tokens and no -insecure), it
// refuses an address that is not loopback once bound: a name that
// CheckExposure took for loopback may resolve to another address.
func Listen(addr string, open bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if open && !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("-addr %s listens on %s, which is not loopback: give -tokens FILE, or -insecure", addr, ln.Addr())
	}
	return ln, nil
}
