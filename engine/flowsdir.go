package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/internal/atomicfile"
	"github.com/flowgen/flowgen/internal/regfile"
)

// The flows directory changes all or nothing, across crashes too. One file
// is replaced atomically (internal/atomicfile), but a document of several
// flows changes several files, and a crash between two of them could
// leave a directory that no longer loads (flow A moved its rpc endpoint to
// flow B: B.json written, A.json not yet). So a change is first written
// whole into a journal, FlowsJournal, atomically: from then on it is
// decided. Then each file is replaced (or removed), then the journal is
// removed. LoadDir (and the next change) finds a journal left by a crash
// and applies it again: applying is idempotent.

// FlowsJournal is the name of the flows directory's journal of a change
// in progress. It does not end in .json: LoadDir does not read it as a
// flow.
const FlowsJournal = ".flowgen-journal"

// dirChange is a change of the flows directory: file name -> new content,
// nil to remove the file.
type dirChange map[string][]byte

// writeDirChange makes ch in dir, all or nothing across crashes: the
// journal first (the change is decided), then the files. A journal left
// by a crash is overwritten: recoverDir it first.
func writeDirChange(dir string, ch dirChange) error {
	crashPoint("")
	j, err := json.Marshal(ch)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, FlowsJournal), j, 0o600); err != nil {
		return err
	}
	crashPoint("journal")
	return replay(dir, ch)
}

// undoDirChange makes dir hold before again, after a change of it failed
// or is undone. When the files already hold before (the change failed at
// its first file, as on a full disk), dropping the journal is enough, and
// needs no room: writing before through a journal of its own would fail
// as the change did, and leave the change's journal for the next start
// to finish, defining the flows of a change refused with a 5xx.
func undoDirChange(dir string, before dirChange) error {
	for name, data := range before {
		cur, err := readDirFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) && data == nil {
			continue
		}
		if err != nil || data == nil || !bytes.Equal(cur, data) {
			return writeDirChange(dir, before)
		}
	}
	if err := os.Remove(filepath.Join(dir, FlowsJournal)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// makeFlowsDir makes dir if it does not exist, with its missing parents:
// private (0700), as the flows saved in it are (0600), and each new entry
// synced into its parent (atomicfile.MkdirAll), so that the flows a 200 to
// PUT /flows saved there outlive a crash with it. One that exists is left
// as it is (its owner chose its mode).
func makeFlowsDir(dir string) error { return atomicfile.MkdirAll(dir, 0o700) }

// writeFile is atomicfile.WriteFile; tests make it fail (fault injection).
var writeFile = atomicfile.WriteFile

// crashPoint is where tests make the process "die" (a panic that nothing
// recovers but the test) in the middle of a change.
var crashPoint = func(string) {}

// readDirFile reads a file of the flows directory: a regular file only
// (a symbolic link to one too), never waiting on a named pipe put there
// (regfile.Read), whose open would hang the start, or a PUT /flows that
// holds the load lock, and every one after it.
func readDirFile(path string) ([]byte, error) {
	b, _, err := regfile.Read(path, -1)
	return b, err
}

// recoverDir finishes the change a crash interrupted in dir, if any.
func recoverDir(dir string) error {
	j, err := readDirFile(filepath.Join(dir, FlowsJournal))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var ch dirChange
	if err := json.Unmarshal(j, &ch); err != nil {
		return fmt.Errorf("%s: %w (a journal cut short is never written: atomicfile)", filepath.Join(dir, FlowsJournal), err)
	}
	for name := range ch {
		if !isFlowFileName(name) {
			return fmt.Errorf("%s: names %q, not a flow's file in the directory: mend or remove the journal", filepath.Join(dir, FlowsJournal), name)
		}
	}
	return replay(dir, ch)
}

// flowFileExt ends the name of a flow's file in the flows directory,
// <flow>.json (Engine.flowFile).
const flowFileExt = ".json"

// isFlowFileName reports whether a journal may name name: a flow's file,
// <flow>.json, in the flows directory itself. The engine writes no other,
// and a journal that a disk or a hand changed must not make a start write
// or remove a file beside the directory ("../x.json") or below it. (The
// journal's own name does not end in flowFileExt.)
func isFlowFileName(name string) bool {
	return filepath.IsLocal(name) && filepath.Base(name) == name &&
		strings.HasSuffix(name, flowFileExt) && len(name) > len(flowFileExt)
}

// replay applies ch, then removes the journal.
func replay(dir string, ch dirChange) error {
	names := make([]string, 0, len(ch))
	for name := range ch {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := applyDirFile(dir, name, ch[name]); err != nil {
			return err
		}
		crashPoint(name)
	}
	if err := os.Remove(filepath.Join(dir, FlowsJournal)); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// applyDirFile replaces dir/name with data (0600), or removes it (nil
// data). A file that already holds data is left alone: restoring a change
// that failed at a file atomicfile refuses to replace (ErrReadOnly), which
// still holds what it held, must not fail there again, and leave the
// journal of the refused change for the next start to finish.
func applyDirFile(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	if data != nil {
		if cur, err := readDirFile(path); err == nil && bytes.Equal(cur, data) {
			return nil
		}
		// 0600: a new definition is readable by the engine's user only.
		return writeFile(path, data, 0o600)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return atomicfile.SyncDir(dir)
}
