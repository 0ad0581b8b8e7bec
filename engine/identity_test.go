package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TokenAuth names a caller by its token: one ID per token, the same after
// the token moves in the file (Reload), another for another token, and
// neither the token nor its plain SHA-256 (which a short token could be
// guessed back from).
func TestTokenIdentity(t *testing.T) {
	a := newTokenAuth(t, "admin "+adminToken+"\nprovider "+providerToken+"\n")
	idOf := func(token string) Identity {
		t.Helper()
		r, _ := http.NewRequest("PUT", "/providers/p", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		id, err := a.AuthorizeIdentity(r, RoleProvider)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	admin, prov := idOf(adminToken), idOf(providerToken)
	if admin.Role != RoleAdmin || prov.Role != RoleProvider || admin.ID == "" || admin.ID == prov.ID {
		t.Fatalf("identities %+v and %+v", admin, prov)
	}
	for token, id := range map[string]string{adminToken: admin.ID, providerToken: prov.ID} {
		d := sha256.Sum256([]byte(token))
		if strings.Contains(id, token) || strings.Contains(id, hex.EncodeToString(d[:])) {
			t.Errorf("the ID %q shows the token or its digest", id)
		}
	}
	if err := os.WriteFile(a.path, []byte("provider "+providerToken+"\nadmin "+adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := idOf(providerToken); got != prov {
		t.Errorf("after the token moved in the file: %+v, want %+v", got, prov)
	}
}
