package wal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowgen/flowgen/internal/regfile"
)

// instanceName is the file that holds a log's instance ID: 32 hexadecimal
// digits, random, made by the first Open for writing and kept from then on.
const instanceName = "INSTANCE"

// readInstance reads the instance ID in dir: "" if there is none, or if
// the file does not hold one. It never opens a file that waits (a named
// pipe in its place would hang Open, as one in a segment's would) and
// reads no more than an ID's line: a file larger holds none.
func readInstance(dir string) (string, error) {
	f, err := regfile.Open(filepath.Join(dir, instanceName))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
		return "", nil
	}
	return id, nil
}

// makeInstance returns the instance ID in dir, making one if there is none
// (replaceSynced, then the directory synced: a crash leaves no file or the
// whole one). The caller holds dir's lock, so no other process makes one
// at the same time.
func makeInstance(dir string, sync func(*os.File) error) (string, error) {
	id, err := readInstance(dir)
	if err != nil || id != "" {
		return id, err
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	id = hex.EncodeToString(b[:])
	if err := replaceSynced(dir, instanceName, []byte(id+"\n"), sync); err != nil {
		return "", err
	}
	return id, syncDir(dir)
}

// Instance is the log's instance ID (the INSTANCE file): random, made by
// the first Open for writing and the same at every later one, so that
// what this process is across its restarts can be told from another
// process (another log), which has its own. A read-only log has the one
// the file holds, or "". A copy of the directory has the same.
func (l *Log) Instance() string { return l.instance }
