package engine

// Who sent a request: the identity an Authorizer may give the caller,
// which the guard puts in the request's context for the handlers that
// decide by it (a provider's lease belongs to the credential that
// registered it, remote.go).

import (
	"context"
	"net/http"
)

// Identity is who sent a request, as the Authorizer knows it.
type Identity struct {
	// ID names the credential: the same for every request that presents
	// it, another for another credential. It is no secret and must not
	// reveal the credential (TokenAuth's is a keyed hash of the token).
	// "" when the Authorizer tells no identity.
	ID string
	// Role is the credential's role (not the route's need).
	Role Role
}

// An IdentityAuthorizer is an Authorizer that also says who the caller is.
// The guard of every route asks AuthorizeIdentity instead of Authorize,
// and the handlers that decide by the caller (the owner of a provider's
// lease) see the identity. TokenAuth is one; with an Authorizer that is
// not, or none, callers have no identity.
type IdentityAuthorizer interface {
	Authorizer
	// AuthorizeIdentity answers as Authorize does, and on success names
	// the caller.
	AuthorizeIdentity(r *http.Request, need Role) (Identity, error)
}

type identityKey struct{}

// withIdentity returns r with the caller's identity in its context.
func withIdentity(r *http.Request, id Identity) *http.Request {
	if id == (Identity{}) {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
}

// identityOf returns the identity the guard found for r's caller (none
// without an IdentityAuthorizer).
func identityOf(r *http.Request) Identity {
	id, _ := r.Context().Value(identityKey{}).(Identity)
	return id
}

// A ReloadNotifier is an Authorizer whose credentials may change while it
// serves (TokenAuth's Reload): Reloaded returns a channel closed at the
// next change. A long-lived answer (a GET /watch stream) asks the
// Authorizer again as soon as it is closed, so that a credential revoked
// stops reading at once, not at the stream's next write. An Authorizer
// that is not one is asked again before each write only.
type ReloadNotifier interface {
	Authorizer
	Reloaded() <-chan struct{}
}

// reloaded returns the channel of the Authorizer's next change, or nil
// (never ready) when it tells none.
func (e *Engine) reloaded() <-chan struct{} {
	if n, ok := e.opts.Authorizer.(ReloadNotifier); ok {
		return n.Reloaded()
	}
	return nil
}
