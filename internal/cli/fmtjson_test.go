package cli

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgen/flowgen/internal/listen"
)

// A flow defined on the service moves into a Go package: the definition
// GET /flows/{flow} answers, printed by fmt as .flow, is the same flow
// (its JSON form is the served one's) and checks clean.
func TestFmtFlowFromService(t *testing.T) {
	dir := t.TempDir()
	url, _, stop := serveWith(t, serveConfig{store: filepath.Join(dir, "store"), net: listen.Config{Addr: "127.0.0.1:0"},
		services: map[string]string{"customers": "http://127.0.0.1:1"}})
	defer stop()
	def, err := os.ReadFile("../../examples/serve/signup.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, "PUT", url+"/flows", string(def)); code != 200 {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	res, err := http.Get(url + "/flows/Signup")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /flows/Signup: %d %s", res.StatusCode, served)
	}
	jsonPath, flowPath := filepath.Join(dir, "signup.json"), filepath.Join(dir, "signup.flow")
	if err := os.WriteFile(jsonPath, served, 0o600); err != nil {
		t.Fatal(err)
	}

	var src, errb bytes.Buffer
	if code := Main([]string{"fmt", jsonPath}, nil, &src, &errb); code != 0 {
		t.Fatalf("fmt: exit %d: %s", code, errb.String())
	}
	if !bytes.Contains(src.Bytes(), []byte("\n    // CreateCustomer registers the customer with the customers service.\n    step CreateCustomer {\n")) {
		t.Errorf("the .flow form lost the doc comments:\n%s", src.String())
	}
	if err := os.WriteFile(flowPath, src.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var fromFlow, fromJSON bytes.Buffer
	if code := Main([]string{"json", flowPath}, nil, &fromFlow, &errb); code != 0 {
		t.Fatalf("json of the .flow form: exit %d: %s", code, errb.String())
	}
	if code := Main([]string{"json", jsonPath}, nil, &fromJSON, &errb); code != 0 {
		t.Fatalf("json of the served definition: exit %d: %s", code, errb.String())
	}
	if !bytes.Equal(fromFlow.Bytes(), fromJSON.Bytes()) {
		t.Errorf("the .flow form is another flow:\n%s\nwant\n%s", fromFlow.String(), fromJSON.String())
	}
	errb.Reset()
	if code := Main([]string{"check", "-nopkg", flowPath}, nil, io.Discard, &errb); code != 0 || errb.Len() > 0 {
		t.Errorf("check of the .flow form: exit %d: %s", code, errb.String())
	}
}
