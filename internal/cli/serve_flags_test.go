package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A -service that no rpc call could use, or a service given twice, stops
// serve before it starts (exit 2, naming the flag and the service), and
// nothing is made on disk. Before, serve started and every call of the
// service's steps failed at run time ("unsupported protocol scheme"), or
// the second URL silently replaced the first.
func TestServeServiceFlagChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"-service", "customers=customers:8080"}, `service "customers": URL "customers:8080": want an http or https URL`},
		{[]string{"-service", "customers=ftp://customers/rpc"}, "want an http or https URL"},
		{[]string{"-service", "customers=http:///rpc"}, "has no host"},
		{[]string{"-service", "customers=http://customers/rpc?v=1"}, "no query or fragment"},
		{[]string{"-service", "customers=http://customers/rpc#x"}, "no query or fragment"},
		{[]string{"-service", "customers=http://a/rpc", "-service", "customers=http://b/rpc"}, `service "customers" given twice`},
	} {
		dir := filepath.Join(t.TempDir(), "store")
		var out, errb strings.Builder
		// -max-conns 0, checked after the flags parse, stops a serve that
		// took the -service rather than let it serve.
		code := Main(append(append([]string{"serve", "-store", dir}, tc.args...), "-max-conns", "0"), nil, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "-service") || !strings.Contains(errb.String(), tc.says) {
			t.Errorf("serve %q: exit %d, %q; want exit 2 saying %q", tc.args, code, errb.String(), tc.says)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("serve %q made %s", tc.args, dir)
		}
	}
}

// A -provider-allow entry the engine would refuse is a bad flag (exit 2),
// refused before serve opens its store, like any other.
func TestServeProviderAllowFlagChecked(t *testing.T) {
	for _, entry := range []string{"*.internal", "10.0.0.0/8", "ftp://host/"} {
		dir := filepath.Join(t.TempDir(), "store")
		var out, errb strings.Builder
		code := Main([]string{"serve", "-store", dir, "-addr", "127.0.0.1:0", "-provider-allow", entry}, nil, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "-provider-allow") || !strings.Contains(errb.String(), entry) {
			t.Errorf("serve -provider-allow %q: exit %d, %q; want exit 2 naming the flag and the entry", entry, code, errb.String())
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("serve -provider-allow %q made %s", entry, dir)
		}
	}
}

// A -flows that is a file, not a directory, stops serve with an error that
// names the flag's directory, where it said only "mkdir x.json: not a
// directory", and leaves no store behind.
func TestServeFlowsNotADirectory(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "flows.json")
	if err := os.WriteFile(file, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(tmp, "store")
	code, _, stderr := runMain("serve", "-store", store, "-flows", file, "-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "flows directory "+file) {
		t.Errorf("serve -flows FILE: exit %d, %q; want 1, naming the flows directory", code, stderr)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("serve -flows FILE left %s", store)
	}
}
