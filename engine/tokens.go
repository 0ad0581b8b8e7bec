package engine

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	goruntime "runtime"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/bearer"
	"github.com/flowgen/flowgen/internal/regfile"
)

// MinTokenLength is the shortest token a token file may hold.
const MinTokenLength = 16

// MaxTokenFileBytes is the largest token file read: a path given by
// mistake (a log, a device such as /dev/zero) is refused, not read whole
// into memory.
const MaxTokenFileBytes = 1 << 20

// TokenAuth is an Authorizer over a file of bearer tokens, one
// "ROLE TOKEN" a line:
//
//	# the flow service's tokens (keep this file mode 0600)
//	admin   4f9c2b7e0d1a8c3f5e6b7a8d9c0e1f2a
//	client  0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e
//	viewer  5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a
//	metrics 7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b
//
// ROLE is admin, client, viewer, provider or metrics (see Role), TOKEN at least MinTokenLength
// characters without white space, and a token is on one line only. Blank
// lines and lines whose first non-blank character is # are skipped; the
// fields are separated by spaces or tabs, and a line may end in CRLF. A
// request presents its token as "Authorization: Bearer TOKEN". Tokens are
// kept as SHA-256 digests and compared in constant time, every one of them
// on every request. Reload reads the file again, and closes the channel
// Reloaded returned before it (a ReloadNotifier). LooseMode tells whether
// others than its owner may read or write the file.
//
// TokenAuth is an IdentityAuthorizer: a caller's Identity.ID is a hash of
// its token keyed with a secret of this TokenAuth, the same across Reload
// (wherever the token moves in the file) and telling nothing of the token.
type TokenAuth struct {
	path   string
	idKey  [32]byte // keys the tokens' identities; random, never shown
	tokens atomic.Pointer[[]tokenEntry]
	mode   atomic.Uint32 // the permissions of the file the tokens were read from
	// reloaded is closed, and replaced, by each Reload that succeeds
	// (Reloaded).
	reloaded atomic.Pointer[chan struct{}]
}

type tokenEntry struct {
	digest [sha256.Size]byte
	role   Role
	id     string // Identity.ID of the token
}

// fileRoles are the roles a token file may give, in the order its errors
// list them.
var fileRoles = []string{string(RoleAdmin), string(RoleClient), string(RoleViewer), string(RoleProvider), string(RoleMetrics)}

// compareTokens compares token digests; a variable so that a test can
// count the comparisons.
var compareTokens = subtle.ConstantTimeCompare

// NewTokenAuth reads the token file at path.
func NewTokenAuth(path string) (*TokenAuth, error) {
	a := &TokenAuth{path: path}
	ch := make(chan struct{})
	a.reloaded.Store(&ch)
	if _, err := rand.Read(a.idKey[:]); err != nil {
		return nil, fmt.Errorf("reading tokens: %w", err)
	}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload reads the token file again, and then closes the channel that
// Reloaded returned until then: the GET /watch streams opened with a token
// the file no longer holds end at once. If the file cannot be read or is
// not valid, it returns why and keeps the tokens it had (and the channel
// open).
func (a *TokenAuth) Reload() error {
	src, mode, err := readTokenFile(a.path)
	if err != nil {
		return fmt.Errorf("reading tokens: %w", err)
	}
	tokens, err := parseTokens(a.path, src)
	if err != nil {
		return err
	}
	for i := range tokens {
		mac := hmac.New(sha256.New, a.idKey[:])
		mac.Write(tokens[i].digest[:])
		tokens[i].id = hex.EncodeToString(mac.Sum(nil))
	}
	a.tokens.Store(&tokens)
	a.mode.Store(uint32(mode.Perm()))
	next := make(chan struct{})
	close(*a.reloaded.Swap(&next)) // after the tokens: who wakes reads them
	return nil
}

// Reloaded returns a channel closed at the next Reload that succeeds.
func (a *TokenAuth) Reloaded() <-chan struct{} { return *a.reloaded.Load() }

// readTokenFile reads the file at path and the permissions of that very
// file (not of another renamed over it meanwhile): a regular file only,
// and never waiting on a named pipe (regfile.Read).
func readTokenFile(path string) ([]byte, fs.FileMode, error) {
	return regfile.Read(path, MaxTokenFileBytes)
}

// LooseMode returns the permissions of the token file as last loaded, and
// whether its group or others may read or write it (mode&0o077 != 0), which
// they should not: whoever reads it holds every token, whoever writes it
// adds their own at the next Reload. Windows has no such permission bits
// (Go shows every file as 0666 or 0444), so there it is never loose.
// flowgen serve logs a warning when it is, at start and at each SIGHUP.
func (a *TokenAuth) LooseMode() (fs.FileMode, bool) {
	m := fs.FileMode(a.mode.Load())
	return m, goruntime.GOOS != "windows" && m&0o077 != 0
}

// Len returns the number of tokens in use.
func (a *TokenAuth) Len() int { return len(*a.tokens.Load()) }

// Authorize lets through a request whose bearer token is in the file with
// a role that allows need.
func (a *TokenAuth) Authorize(r *http.Request, need Role) error {
	_, err := a.AuthorizeIdentity(r, need)
	return err
}

// AuthorizeIdentity is Authorize, and names the caller by its token.
func (a *TokenAuth) AuthorizeIdentity(r *http.Request, need Role) (Identity, error) {
	token, ok := bearer.Token(r)
	if !ok {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, errNoToken)
	}
	d := sha256.Sum256([]byte(token))
	var who Identity
	for _, t := range *a.tokens.Load() { // every token, whichever matches
		if compareTokens(t.digest[:], d[:]) == 1 {
			who = Identity{ID: t.id, Role: t.role}
		}
	}
	switch {
	case who.Role == "":
		return Identity{}, errInvalidToken
	case !who.Role.Allows(need):
		return Identity{}, fmt.Errorf("%w: %s %s needs the %s role; the token's role is %s", ErrForbidden, shownMethod(r), shownPath(r), need, who.Role)
	}
	return who, nil
}

// parseTokens reads a token file. Its errors never quote a token.
func parseTokens(name string, src []byte) ([]tokenEntry, error) {
	var out []tokenEntry
	seen := map[[sha256.Size]byte]int{}
	// Lines of any length: a bufio.Scanner stopped at 64 KiB with "token
	// too long", naming neither the line nor what was wrong with it.
	for i, line := range strings.Split(string(src), "\n") {
		n := i + 1
		// Fields apart by spaces or tabs only, as the comment says: not
		// by any Unicode white space (a no-break space, a form feed),
		// which strings.Fields took.
		f := strings.FieldsFunc(strings.TrimSuffix(line, "\r"), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 2 {
			hint := ""
			if len(f) > 2 && strings.HasPrefix(f[2], "#") {
				// A comment after the token, as many config files take;
				// a token may hold a '#', so only a whole line is one.
				hint = ": a comment (`#`) takes a line of its own"
			}
			return nil, fmt.Errorf("%s:%d: want ROLE TOKEN, found %d fields%s", name, n, len(f), hint)
		}
		role := Role(f[0])
		if !slices.Contains(fileRoles, f[0]) {
			what, hint := "unknown role", ""
			if len(f[0]) < MinTokenLength { // else it may be a token: neither quoted nor matched
				what += fmt.Sprintf(" %q", f[0])
				hint = diag.Suggestion(f[0], fileRoles)
			}
			return nil, fmt.Errorf("%s:%d: %s: want %s or %s, then the token%s", name, n, what,
				strings.Join(fileRoles[:len(fileRoles)-1], ", "), fileRoles[len(fileRoles)-1], hint)
		}
		if len(f[1]) < MinTokenLength {
			return nil, fmt.Errorf("%s:%d: the token has %d characters, fewer than %d: make one with `openssl rand -hex 32`", name, n, len(f[1]), MinTokenLength)
		}
		if err := bearer.Check(f[1]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		d := sha256.Sum256([]byte(f[1]))
		if prev, dup := seen[d]; dup {
			return nil, fmt.Errorf("%s:%d: the token of line %d again", name, n, prev)
		}
		seen[d] = n
		out = append(out, tokenEntry{digest: d, role: role})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no tokens: every request would be refused", name)
	}
	return out, nil
}
