// Package logtest is what a test needs to read a server's log while the
// server writes it. Only tests import it.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that one goroutine may write (a logger's
// handler) while another reads it (the test).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
