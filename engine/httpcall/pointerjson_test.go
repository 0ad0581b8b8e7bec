package httpcall

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flowgen/flowgen/internal/pointerjsontest"
)

// A generated port passes its request as a value: encoded so, the field
// went as {} (encoding/json skips pointer methods of what it cannot
// address). The Caller encodes it through a pointer, as a state is.
func TestCallerKeepsPointerJSONMethodsOfARequest(t *testing.T) {
	sent := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sent <- string(b)
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	if err := New(Static{"billing": srv.URL}).Call(context.Background(), "billing", "Charge", pointerjsontest.New(1234), nil); err != nil {
		t.Fatal(err)
	}
	if got := <-sent; got != pointerjsontest.JSON(1234) {
		t.Errorf("the request sent %s, want the amount", got)
	}
}
