package engine

import (
	"net/http"
	"sync"
)

// Untraced reports whether r is a request of a route that starts no trace
// of its own (Route.Untraced): GET /metrics, the web view's files, GET
// /watch. Tracing middleware (observe.Telemetry.Middleware) asks it of
// each request Handler serves, before Handler sees it; whether a request
// that carries a traceparent is traced is the middleware's to decide.
func Untraced(r *http.Request) bool {
	h, _ := routeFinder().Handler(r)
	rt, ok := h.(routeMark)
	return ok && rt.Untraced
}

// routeFinder finds the route of a request as Handler's mux does: the
// same table, the same patterns, the same ServeMux. A path Handler's mux
// would redirect (not clean: Canonical answers it 404) finds none.
var routeFinder = sync.OnceValue(func() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.Pattern, routeMark{rt.Route})
	}
	return mux
})

// routeMark is a route of routeFinder: it names the route, and serves
// nothing.
type routeMark struct{ Route }

func (routeMark) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}
