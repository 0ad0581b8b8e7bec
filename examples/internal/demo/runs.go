package demo

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// RunTag tells this process's runs from earlier ones in the same store:
// an example names its runs after a scenario and the tag.
func RunTag() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// Announce prints the line that introduces run id, which plays the
// scenario name: "name (run id): about".
func Announce(w io.Writer, name, id, about string) {
	fmt.Fprintf(w, "%s (run %s): %s\n", name, id, about)
}
