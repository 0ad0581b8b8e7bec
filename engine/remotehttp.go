package engine

// The HTTP API of remote providers (routes in access.go).

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/flowgen/flowgen/engine/provider"
)

var errProvidersOff = errors.New("remote providers are off in this engine (engine.Options.Providers)")

// Providers returns the live leases of remote providers, by name (nil
// when remote providers are off).
func (e *Engine) Providers() []provider.Lease {
	if e.remote == nil {
		return []provider.Lease{} // GET /providers: [], as with none registered
	}
	return e.remote.list()
}

// RegisterProvider grants or renews the lease of a remote provider, as
// PUT /providers/{name} does, as the operator: like an admin, it may
// replace any provider's live lease, and the lease it grants belongs to
// no credential (any provider may replace it). With reg.Replica, it
// registers that replica of the provider, as ?replica= does. The
// answer's CallToken is the registration's call credential, which the
// engine sends with every HTTP call of its handlers: give it to the
// provider. Registering again issues another one.
func (e *Engine) RegisterProvider(name string, reg provider.Registration) (provider.Lease, error) {
	if e.remote == nil {
		return provider.Lease{}, fmt.Errorf("%w: %w", ErrRegistration, errProvidersOff)
	}
	return e.remote.register(name, reg, operator)
}

// WithdrawProvider ends the registration of replica of remote provider
// name, and the lease with its last live replica; replica "" ends the
// lease whole. As DELETE /providers/{name} does, as the operator:
// ErrNoLease if there was no live one (an expired one is gone).
func (e *Engine) WithdrawProvider(name, replica string) error {
	if e.remote == nil {
		return fmt.Errorf("%w: %q: %w", ErrNoLease, name, errProvidersOff)
	}
	return e.remote.leave(name, replica, operator)
}

// operator is who registers and withdraws providers through the Engine's
// Go methods: like an admin, it may change any provider's lease.
var operator = Identity{Role: RoleAdmin}

func (e *Engine) providerStatus(err error) int {
	switch {
	case errors.Is(err, ErrRegistration):
		return http.StatusBadRequest
	case errors.Is(err, ErrProviderConflict):
		return http.StatusConflict
	case errors.Is(err, ErrProvidersFull):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrNoLease):
		return http.StatusNotFound
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// replicaQuery reads the replica query parameter of the lease routes: the
// replica (of the provider's processes sharing its name) the request is
// about; absent: the lease whole. A value outside the limits of names
// answers 400.
func replicaQuery(w http.ResponseWriter, r *http.Request) (string, bool) {
	q := r.URL.Query()
	if !q.Has("replica") {
		return "", true
	}
	v := q.Get("replica")
	if err := checkName("replica", v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%w: query parameter replica: %v", ErrRegistration, err), nil)
		return "", false
	}
	return v, true
}

func (e *Engine) httpPutProvider(w http.ResponseWriter, r *http.Request) {
	if e.remote == nil {
		writeError(w, http.StatusNotFound, errProvidersOff, nil)
		return
	}
	replica, ok := replicaQuery(w, r)
	if !ok {
		return
	}
	body, ok := e.readBody(w, r)
	if !ok {
		return
	}
	var reg provider.Registration
	if err := provider.DecodeStrict(body, &reg); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%w: %v", ErrRegistration, err), nil)
		return
	}
	reg.Replica = replica
	l, err := e.remote.register(r.PathValue("name"), reg, identityOf(r))
	if err != nil {
		e.writeErr(w, r, e.providerStatus(err), err)
		return
	}
	l.Warnings = e.remote.unused(reg.Handlers)
	writeJSON(w, http.StatusOK, l)
}

func (e *Engine) httpRenewProvider(w http.ResponseWriter, r *http.Request) {
	if !e.noBody(w, r) {
		return
	}
	if e.remote == nil {
		writeError(w, http.StatusNotFound, errProvidersOff, nil)
		return
	}
	// A name no provider can have (checkName, as register checks it) is
	// a 400, as in the flows' routes, not a 404 echoing the whole path.
	name, ok := pathName(w, r, "name", "provider name")
	if !ok {
		return
	}
	replica, ok := replicaQuery(w, r)
	if !ok {
		return
	}
	l, err := e.remote.renew(name, replica, identityOf(r))
	if err != nil {
		e.writeErr(w, r, e.providerStatus(err), err)
		return
	}
	l.Handlers = nil
	writeJSON(w, http.StatusOK, l)
}

func (e *Engine) httpDeleteProvider(w http.ResponseWriter, r *http.Request) {
	if !e.noBody(w, r) {
		return
	}
	if e.remote == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("%w: %s", ErrNoLease, quoteParam(r.PathValue("name"))), nil)
		return
	}
	name, ok := pathName(w, r, "name", "provider name")
	if !ok {
		return
	}
	replica, ok := replicaQuery(w, r)
	if !ok {
		return
	}
	if err := e.remote.leave(name, replica, identityOf(r)); err != nil {
		e.writeErr(w, r, e.providerStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Engine) httpProviders(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"providers": e.Providers()})
}

// HandlerInfo says who serves a Go step or Go rollback of a JSON flow.
type HandlerInfo struct {
	Name     string   `json:"name"` // as the flow names it
	Rollback bool     `json:"rollback,omitempty"`
	Outcomes []string `json:"outcomes,omitempty"` // declared by the flow
	// InProcess: a handler registered in the engine's own Registry
	// serves it (it wins over providers).
	InProcess bool `json:"in_process,omitempty"`
	// Providers are the live providers that serve it (their registered
	// name, "Flow.Name" or "Name", and where).
	Providers []HandlerProvider `json:"providers"`
	// Provided: someone serves it now, as a run waiting for a provider
	// sees it: an in-process handler, or a live provider with the flow's
	// outcomes that a call may go to (not one whose every replica a call
	// found gone: docs/engine.md#replicas).
	Provided bool `json:"provided"`
}

// HandlerProvider is a live provider of a handler.
type HandlerProvider struct {
	Provider string `json:"provider"`
	Handler  string `json:"handler"`
	// Where the provider serves it (its callback URL or NATS subject) is
	// not here: the handlers views are a viewer's, and a callback URL
	// is an address in the operator's network (GET /providers, admin's,
	// shows the leases whole).
	// Mismatch, when not nil, is the provider's outcomes, which differ
	// from the flow's: it does not serve this flow until it registers
	// again. Empty, not nil, for a provider that registered none, which
	// omitzero writes as [] (omitempty would drop it, and the view would
	// show that provider serving the step).
	Mismatch []string `json:"outcomes_mismatch,omitzero"`
}

// FlowHandlers returns the Go steps and Go rollbacks of JSON flow name and
// who serves each.
func (e *Engine) FlowHandlers(name string) ([]HandlerInfo, error) {
	fe, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	if fe.def == nil {
		return nil, &generatedFlowError{flow: name, has: "Go handlers served by providers"}
	}
	out := []HandlerInfo{}
	for _, m := range fe.def.GoMethods() {
		k := handlerKey{flow: name, name: m.Name, rollback: m.Rollback}
		hi := HandlerInfo{Name: m.Name, Rollback: m.Rollback, InProcess: e.reg.has(k), Providers: []HandlerProvider{}}
		if !m.Rollback {
			hi.Outcomes = declaredOutcomes(m.Steps[0])
		}
		if e.remote != nil {
			hi.Providers = e.remote.providersOf(k, hi.Outcomes)
			hi.Provided = e.remote.served(k, hi.Outcomes)
		}
		hi.Provided = hi.Provided || hi.InProcess
		out = append(out, hi)
	}
	return out, nil
}

// providersOf lists the live providers of k, those of its qualified name
// first.
func (rm *remote) providersOf(k handlerKey, outcomes []string) []HandlerProvider {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	now := rm.e.clock.Now()
	out := []HandlerProvider{}
	for _, l := range rm.leasesOfLocked(k) {
		seen := map[string]bool{} // replicas serving one handler at other URLs
		for _, h := range l.handlers(now, k.names) {
			p := HandlerProvider{Provider: l.name, Handler: h.Name}
			if !k.rollback && !sameOutcomes(h.Outcomes, outcomes) {
				p.Mismatch = append([]string{}, h.Outcomes...)
			}
			// A mismatch of no outcomes is not a match: replicas at
			// both are listed.
			if id := fmt.Sprint(p.Mismatch != nil) + "\x00" + p.Handler + "\x00" + strings.Join(p.Mismatch, "\x00"); !seen[id] {
				seen[id] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		qi, qj := out[i].Handler != k.name, out[j].Handler != k.name
		if qi != qj {
			return qi
		}
		return out[i].Provider < out[j].Provider
	})
	return out
}

// unused warns about handlers that no registered JSON flow uses (yet):
// deployment order does not matter, but a typo should show.
func (rm *remote) unused(hs []provider.Handler) []string {
	used := map[handlerKey]bool{}
	for _, fl := range rm.e.jsonFlows() {
		for _, m := range fl.GoMethods() {
			used[handlerKey{name: fl.Name + "." + m.Name, rollback: m.Rollback}] = true
			used[handlerKey{name: m.Name, rollback: m.Rollback}] = true
		}
	}
	var out []string
	for _, h := range hs {
		if !used[handlerKey{name: h.Name, rollback: h.Rollback}] {
			what := "Go step"
			if h.Rollback {
				what = "Go rollback"
			}
			out = append(out, fmt.Sprintf("no registered flow has a %s that handler %q serves (yet)", what, h.Name))
		}
	}
	return out
}

func (e *Engine) httpFlowHandlers(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r, "flow", "flow name")
	if !ok {
		return
	}
	hs, err := e.FlowHandlers(name)
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"flow": name, "handlers": hs})
}

// FlowWithHandlers is the answer of GET /flows/{flow}?handlers=true: the
// definition, as GET /flows/{flow} gives it (and PUT /flows takes it
// back), beside who serves its Go steps and Go rollbacks. The handlers
// are not in the definition: they change with the providers' leases, and
// a definition read back and put again must not change the flow.
type FlowWithHandlers struct {
	Flow       string          `json:"flow"`
	Definition json.RawMessage `json:"definition"`
	Handlers   []HandlerInfo   `json:"handlers"`
}

// handlersQuery reads the handlers query parameter of GET /flows/{flow}
// (a boolean, default false); a value that is not one answers 400.
func handlersQuery(w http.ResponseWriter, r *http.Request) (bool, bool) {
	return boolQuery(w, r.URL.Query(), "handlers", false)
}

func (e *Engine) writeFlowWithHandlers(w http.ResponseWriter, r *http.Request, name string) {
	src, err := e.FlowJSON(name)
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	hs, err := e.FlowHandlers(name)
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, FlowWithHandlers{Flow: name, Definition: src, Handlers: hs})
}
