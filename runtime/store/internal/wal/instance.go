package wal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowgen/flowgen/internal/atomicfile"
	"github.com/flowgen/flowgen/internal/regfile"
)

// instanceName is the file that holds a log's instance ID: 32 hexadecimal
// digits, random, made by the first Open for writing and kept from then on.
const instanceName = "INSTANCE"

// ErrInstance is matched (errors.Is) by Open's error when the log's
// INSTANCE file is there but holds no instance ID (*InstanceError).
var ErrInstance = errors.New("damaged instance file")

// InstanceError is Open's error for an INSTANCE file that holds no
// instance ID while the log holds records: the log had an identity, which
// a new ID would quietly replace (an engine restarted on it would no
// longer be told from another process by its broker).
type InstanceError struct {
	Path string // the INSTANCE file
	Held []byte // what it holds, cut to 64 bytes
}

func (e *InstanceError) Error() string {
	return fmt.Sprintf("wal: %s is damaged: it holds %q, not this store's instance ID (32 hexadecimal digits). "+
		"The ID tells a process restarted on the store from another process (an engine's hold of its ID on a broker names it), "+
		"so it is not replaced on its own: restore the file from a backup or a copy of the store, "+
		"or, if the ID is lost, remove the file and open again: a new ID is made, and an engine on NATS is refused its engine ID until the lease the old ID holds expires (30s after its holder stopped; docs/store.md)",
		e.Path, e.Held)
}

// Is makes errors.Is(err, ErrInstance) true.
func (e *InstanceError) Is(target error) bool { return target == ErrInstance }

// readInstance reads the instance ID in dir: "" if there is no file, an
// *InstanceError if the file does not hold one. It never opens a file that
// waits (a named pipe in its place would hang Open, as one in a segment's
// would) and reads no more than an ID's line: a file larger holds none.
func readInstance(dir string) (string, error) {
	path := filepath.Join(dir, instanceName)
	f, err := regfile.Open(path)
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
		return "", &InstanceError{Path: path, Held: b}
	}
	return id, nil
}

// makeInstance returns the instance ID in dir, making one if there is
// none (replaceSynced, then the directory synced: a crash leaves no file
// or the whole one). A damaged file is replaced only in a log that holds
// no record (empty): one that holds records had an identity, and the
// damage is an *InstanceError. With no room on the disk for a new file
// (a log made before INSTANCE existed, on a full disk), the log has no
// ID: "" (an engine then holds its ID under one of its own, as for a
// store without one), and the next Open with room makes it, so that a
// full disk does not keep its owner from reading or compacting the log.
// The caller holds dir's lock, so no other process makes one at the same
// time.
func makeInstance(dir string, empty bool, sync func(*os.File) error) (string, error) {
	id, err := readInstance(dir)
	if err == nil && id != "" {
		return id, nil
	}
	if err != nil && (!errors.Is(err, ErrInstance) || !empty) {
		return "", err
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	id = hex.EncodeToString(b[:])
	if err := replaceSynced(dir, instanceName, []byte(id+"\n"), sync); err != nil {
		if noRoom(err) {
			return "", nil
		}
		return "", err
	}
	return id, atomicfile.SyncDir(dir)
}

// Instance is the log's instance ID (the INSTANCE file): random, made by
// the first Open for writing and the same at every later one, so that
// what this process is across its restarts can be told from another
// process (another log), which has its own. A read-only log has the one
// the file holds, or "" (none, or a damaged one: reading needs no
// identity). A copy of the directory has the same. It is "" too for a
// log made before INSTANCE existed and opened on a full disk (makeInstance).
func (l *Log) Instance() string { return l.instance }
