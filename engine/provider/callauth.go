package provider

import (
	"crypto/subtle"
	"net/http"
	"sync"
	"time"

	"github.com/flowgen/flowgen/internal/bearer"
)

// maxTokenWait bounds how long a call waits for the registration in
// flight whose answer brings the token it carries.
const maxTokenWait = 10 * time.Second

// callAuth holds the call credential of a Provider's registration (the
// Lease's CallToken) and checks that the calls it serves over HTTP carry
// it: anyone who reaches the provider's port can send it a request, and
// only the engine knows the token.
type callAuth struct {
	mu         sync.Mutex
	registered bool          // a registration was answered
	token      string        // its CallToken; "": the engine sends none
	pending    chan struct{} // closed when the registration in flight is answered or fails
}

// begin marks a registration in flight: the engine may call its handlers
// before its answer, with the token, reaches this process.
func (a *callAuth) begin() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		a.pending = make(chan struct{})
	}
}

// end ends the registration in flight; ok: it was granted, with token.
func (a *callAuth) end(ok bool, token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok {
		a.registered, a.token = true, token
	}
	if a.pending != nil {
		close(a.pending)
		a.pending = nil
	}
}

// allows reports whether r carries the registration's token, compared in
// constant time. A call with another token while a registration is in
// flight waits for its answer (at most maxTokenWait), which may bring
// that token. Before any registration nothing is allowed; after one with
// no token (an engine that sends none), everything is, as before call
// credentials.
func (a *callAuth) allows(r *http.Request) bool {
	got, _ := bearer.Token(r)
	var timeout <-chan time.Time // armed only if the call has to wait: most do not
	for {
		a.mu.Lock()
		registered, token, pending := a.registered, a.token, a.pending
		a.mu.Unlock()
		if registered && (token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1) {
			return true
		}
		if pending == nil {
			return false
		}
		if timeout == nil {
			t := time.NewTimer(maxTokenWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-pending:
		case <-r.Context().Done():
			return false
		case <-timeout:
			return false
		}
	}
}
