package httpcall

import (
	"context"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
)

// amount is a request with a field whose JSON methods have pointer
// receivers, as math/big.Int's do.
type amount struct {
	Cents big.Int `json:"cents"`
}

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
	var req amount
	req.Cents.SetInt64(1234)
	if err := New(Static{"billing": srv.URL}).Call(context.Background(), "billing", "Charge", req, nil); err != nil {
		t.Fatal(err)
	}
	if got := <-sent; got != `{"cents":1234}` {
		t.Errorf("the request sent %s, want the amount", got)
	}
}
