package wal

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewerSegmentVersion: a segment whose header is whole (its checksum
// holds) but names a format version this code does not know was written
// by a newer flowgen, not damaged: Open refuses it (a *CorruptError at
// offset 0, read-only too) and says so, where it said only "unsupported
// segment version", which an operator reads as damage to restore from a
// backup (docs/store.md, "Crash safety").
func TestNewerSegmentVersion(t *testing.T) {
	dir := t.TempDir()
	logOf(t, dir, []byte("a record"))
	path := filepath.Join(dir, "0000000000000001.seg")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(data[8:12], segVersion+1)
	binary.LittleEndian.PutUint32(data[12:16], checksum(data[:12]))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		_, _, err := readAll(t, dir, Options{ReadOnly: ro})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Offset != 0 || !strings.Contains(ce.Reason, "segment version 2") || !strings.Contains(ce.Reason, "newer flowgen") {
			t.Errorf("read-only %v: open of a segment of version 2: %v; want it said to be of a newer flowgen", ro, err)
		}
	}
}
