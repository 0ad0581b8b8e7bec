package engine

import (
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/engine/provider/natsprovider"
)

// The subject natsprovider.Serve registers for names within the limits
// of names (128 bytes each, any UTF-8, escaped as %XX a byte) is one the
// engine takes: a provider and a handler with non-ASCII names (3 bytes a
// character in most scripts, 9 once escaped) made a subject past the 255
// bytes the engine took, and its registration was refused, 400, with
// valid names.
func TestProviderSubjectOfLongestNames(t *testing.T) {
	_, e, _ := remoteFixture(t, ProviderOptions{NATS: stubTransport{}})
	name := strings.Repeat("é", dsl.MaxNameLen/2)
	for _, rollback := range []bool{false, true} {
		h := provider.Handler{Name: strings.Repeat("請", dsl.MaxNameLen/3), Rollback: rollback}
		h.Subject = natsprovider.Subject(name, h)
		if _, err := e.RegisterProvider(name, provider.Registration{Handlers: []provider.Handler{h}}); err != nil {
			t.Fatalf("registration of %d-byte names, subject of %d bytes: %v", len(name), len(h.Subject), err)
		}
	}
}
