package runtime

import (
	crand "crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
)

// idPrefixBytes is the size of NewID's random prefix: 64 bits, so that the
// processes a service runs over its life (each restart picks a prefix, and
// counts from 1 again) do not meet one another's prefix in practice.
const idPrefixBytes = 8

var (
	idPrefix = func() string {
		var b [idPrefixBytes]byte
		_, _ = crand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
	idCounter atomic.Uint64
)

// NewID returns an ID unique across processes and restarts: a random
// prefix chosen once per process (16 lower-case hex digits), '-', and a
// counter. It is the default run ID of a flow (WithIDs), and the engine's
// run and message IDs.
func NewID() string {
	var b [2*idPrefixBytes + 1 + 20]byte
	n := copy(b[:], idPrefix)
	b[n] = '-'
	return string(strconv.AppendUint(b[:n+1], idCounter.Add(1), 10))
}

// IsNewID reports whether id has the form of NewID's IDs (of this process
// or another): what a caller's own ID must not look like where the two
// share a namespace.
func IsNewID(id string) bool {
	prefix, count, ok := strings.Cut(id, "-")
	if !ok || len(prefix) != 2*idPrefixBytes || count == "" || strings.Trim(count, "0123456789") != "" {
		return false
	}
	return strings.Trim(prefix, "0123456789abcdef") == ""
}
