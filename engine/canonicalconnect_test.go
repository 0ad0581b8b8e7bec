package engine

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// A CONNECT request names a host, not a path (its URL's path is empty),
// and a ServeMux neither serves nor cleans it: Canonical answers it the
// API's 404 for a path without a route. Before, it took the empty path
// for one that is not clean, and answered "the API does not clean paths;
// did you mean ?".
func TestCanonicalConnect(t *testing.T) {
	served := false
	h := Canonical(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }))
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Host: "localhost:8080"}, Host: "localhost:8080", Header: http.Header{}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if served || rec.Code != http.StatusNotFound {
		t.Fatalf("CONNECT: %d %s (served: %v), want the API's 404", rec.Code, rec.Body, served)
	}
	if b := rec.Body.String(); strings.Contains(b, "did you mean") || !strings.Contains(b, "no such endpoint: CONNECT") {
		t.Fatalf("CONNECT: %s, want no such endpoint, without a clean path to suggest", b)
	}
}
