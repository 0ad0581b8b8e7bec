package engine

// The log of refused API requests (401, 403 by the Authorizer, and a
// provider's lease change refused as another credential's): an
// operator's only sight of a token being guessed or of a client
// misconfigured. It is bounded, as whoever reaches the API can make a
// refusal at will: a flood would otherwise fill the log and its disk.

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/flowgen/flowgen/internal/ratelog"
	"github.com/flowgen/flowgen/runtime"
)

const (
	// RefusalLogBurst is how many refused requests the engine logs in a
	// RefusalLogInterval; it counts the others and logs their number
	// ("suppressed") with the first refusal of a later interval.
	RefusalLogBurst = 20
	// RefusalLogInterval is the interval of RefusalLogBurst.
	RefusalLogInterval = time.Minute
)

// errNoToken: a request with no bearer token, or none that reads as one
// (401).
var errNoToken = errors.New("send one header Authorization: Bearer TOKEN")

// refusalLog logs refused requests, at most RefusalLogBurst an interval
// (ratelog.Logger). No timer: the count of an interval's suppressed lines
// is written when the next refusal comes, so a quiet API costs nothing.
type refusalLog struct{ lines ratelog.Logger }

func newRefusalLog(log *slog.Logger, clock runtime.Clock) *refusalLog {
	return &refusalLog{lines: ratelog.Logger{Bound: ratelog.Bound{Burst: RefusalLogBurst, Interval: RefusalLogInterval},
		Log: log, Now: clock.Now, Suppressed: "API requests refused, not logged"}}
}

// refused logs that r, asking for rt, was refused with err, an
// Authorizer's error. The log says why by the error's class only: an
// Authorizer's text is its own, and might quote what the client sent.
// GET /session without a token is not logged: it is the web view's first
// request, signed out (sessionRoute), so every page opened, and neither a
// token guessed nor a client misconfigured.
func (l *refusalLog) refused(r *http.Request, rt Route, err error) {
	if rt.Pattern == sessionRoute && errors.Is(err, errNoToken) {
		return
	}
	// The path is the sender's, as long as -max-header-bytes lets it be:
	// cut as an error answer cuts it, or the burst's lines would be up
	// to 64 KiB each.
	l.lines.Warn("API request refused", "status", refusalStatus(err), "method", r.Method, "path", shownPath(r),
		"remote", r.RemoteAddr, "need", string(rt.Need), "reason", refusalReason(err))
}

// leaseHeld logs a change (what: "replace", "renew", "withdraw") of
// provider's live lease refused as another credential's (ErrLeaseHeld, a
// 403): one more refused request, which a provider's credential makes at
// will, so within the same bound.
func (l *refusalLog) leaseHeld(provider, what string) {
	l.lines.Warn("provider lease change refused: another credential holds it", "provider", provider, "change", what)
}

// refusalReason is the class of an Authorizer's error.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, ErrForbidden):
		return "wrong role"
	case errors.Is(err, errInvalidToken):
		return "invalid token"
	case errors.Is(err, errNoToken):
		return "missing token"
	}
	return "not authenticated" // another Authorizer's error
}
