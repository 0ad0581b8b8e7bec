package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// storeToCompact writes three runs that finished in 2020, one still
// running since then, and an inbox message that expired.
func storeToCompact(t *testing.T) string {
	t.Helper()
	dir, st := newStore(t)
	defer st.Close()
	t0 := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx := context.Background()
	emit := func(run string, tos ...string) {
		from := "pending"
		for i, to := range tos {
			e := runtime.Event{RunID: run, Seq: uint64(i + 1), Time: t0, Flow: "Order", From: from, To: to, State: json.RawMessage(`{}`)}
			if err := st.Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
			from = to
		}
	}
	for i := range 3 {
		emit(fmt.Sprintf("done-%d", i), "A:running", "done")
	}
	emit("live", "A:running")
	m, _, err := st.PutMessage(ctx, store.Message{Topic: "t", Event: "e", ID: "1", Payload: []byte(`{}`), Received: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ExpireMessage(ctx, m.Key(), "", t0); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCompactVerb(t *testing.T) {
	dir := storeToCompact(t)
	code, out, errOut := runMain("compact", "-store", dir, "-retain", "720h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `runs:     3 removed, 1 kept
messages: 1 expired removed, 0 kept
records:  8 removed, 1 kept
`
	// docs/store.md shows this compaction, byte counts too.
	doc, err := os.ReadFile("../../docs/store.md")
	if err != nil {
		t.Fatal(err)
	}
	_, example, _ := strings.Cut(string(doc), "$ flowgen compact -store ./data -retain 720h")
	_, example, _ = strings.Cut(example, "\n")
	if example, _, _ = strings.Cut(example, "```"); example != out {
		t.Errorf("docs/store.md shows compact printing:\n%s\nit prints:\n%s", example, out)
	}
	head, size, _ := strings.Cut(out, "size:")
	if head != want {
		t.Fatalf("output:\n%s\nwant it to start with:\n%s", out, want)
	}
	m := regexp.MustCompile(`^ +(\d+) -> (\d+) bytes \(\d+(\.\d)? [KM]?i?B -> \d+(\.\d)? [KM]?i?B\)\n$`).FindStringSubmatch(size)
	if m == nil {
		t.Fatalf("size line %q", size)
	}
	if before, after := atoi(t, m[1]), atoi(t, m[2]); after >= before || after == 0 {
		t.Errorf("size %d -> %d", before, after)
	}
	code, out, _ = runMain("runs", "-store", dir)
	if code != 0 || strings.Contains(out, "done-") || !strings.Contains(out, "live") {
		t.Fatalf("runs after compact (exit %d):\n%s", code, out)
	}
	// Without -retain, every run stays.
	dir = storeToCompact(t)
	if code, out, errOut = runMain("compact", "-store", dir); code != 0 || !strings.HasPrefix(out, "runs:     0 removed, 4 kept\nmessages: 1 expired removed") {
		t.Fatalf("compact without -retain (exit %d):\n%s", code, out)
	}
	if errOut != "" {
		t.Errorf("compact of a whole store said: %s", errOut)
	}
}

// TestCompactVerbSaysItCutATornTail: a torn tail the open cut (a write
// that never finished, or damage to the last records that looks the
// same) is said on stderr, and the compaction goes on.
func TestCompactVerbSaysItCutATornTail(t *testing.T) {
	dir := storeToCompact(t)
	seg, size := tearStore(t, dir)
	code, out, errOut := runMain("compact", "-store", dir, "-retain", "720h")
	want := fmt.Sprintf("flowgen: compact: warning: the log ended in a torn write, cut at open: 20 bytes at offset %d of %s (a write never acknowledged, or damage to the last records that looks the same)\n", size, seg)
	if code != 0 || errOut != want || !strings.HasPrefix(out, "runs:     3 removed, 1 kept\n") {
		t.Fatalf("exit %d, stderr %q, want %q; stdout:\n%s", code, errOut, want, out)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCompactVerbRefuses(t *testing.T) {
	dir := storeToCompact(t)
	// A store open elsewhere (flowgen serve) is not compacted behind its back.
	// Open here, in this process, it is refused as open in this process;
	// another process's is "in use by another process".
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runMain("compact", "-store", dir, "-retain", "1h")
	st.Close()
	if code != 1 || out != "" || !strings.Contains(errOut, "already open in this process") {
		t.Fatalf("compact of an open store: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"compact"}, 2, "-store is required"},
		{[]string{"compact", "-store", dir, "-retain", "-1h"}, 2, "-retain must not be negative"},
		{[]string{"compact", "-store", dir, "-retain", "xyz"}, 2, `invalid value "xyz" for flag -retain: want a duration such as 720h or 30m`},
		{[]string{"compact", "-store", dir, "x"}, 2, "unexpected arguments"},
		{[]string{"compact", "-store", dir + "/missing"}, 1, "holds no store"},
	} {
		code, _, errOut := runMain(c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", c.args, code, errOut, c.code, c.err)
		}
	}
}

// The verbs that read or maintain a store refuse a directory that holds
// none, and leave it as it was: read-only, runs, history and inbox listed
// nothing, as for an empty store, and compact made a store in it, so a
// mistyped -store passed for a real one.
func TestStoreVerbsRefuseANonStore(t *testing.T) {
	for _, name := range []string{"missing", "empty", "other"} {
		dir := filepath.Join(t.TempDir(), name)
		switch name {
		case "empty":
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		case "other":
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a store"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		before := dirEntries(t, dir)
		for _, args := range [][]string{
			{"runs", "-store", dir},
			{"history", "-store", dir, "r1"},
			{"inbox", "-store", dir},
			{"compact", "-store", dir},
		} {
			code, out, errOut := runMain(args...)
			if code != 1 || out != "" || !strings.Contains(errOut, dir+" holds no store") {
				t.Errorf("%s of a %s directory: exit %d, stdout %q, stderr %q; want 1, %q", args[0], name, code, out, errOut, "holds no store")
			}
			if after := dirEntries(t, dir); !slices.Equal(after, before) {
				t.Errorf("%s of a %s directory changed it: %q, was %q", args[0], name, after, before)
			}
		}
	}
}

// dirEntries names what dir holds (nil if it does not exist).
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestServeRetainFlag(t *testing.T) {
	code, _, errOut := runMain("serve", "-store", t.TempDir(), "-addr", "127.0.0.1:0", "-retain", "-1h")
	if code != 2 || !strings.Contains(errOut, "-retain must not be negative") {
		t.Fatalf("serve -retain -1h: exit %d, %q; want 2", code, errOut)
	}
}

// tearStore appends 20 zero bytes to the first segment of the closed
// store in dir, as a write whose data never reached the disk leaves, and
// returns the segment and its size before.
func tearStore(t *testing.T, dir string) (string, int64) {
	t.Helper()
	seg := filepath.Join(dir, "0000000000000001.seg")
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	return seg, fi.Size()
}

// TestStoreVerbsRefuseACutBelowTheMark: a store whose last segment was
// cut (by hand) below the offset its SYNCED file names lost runs that
// were acknowledged. compact refuses it, as serve's Open does, and the
// read-only verbs name the same damage: they listed the runs left as a
// whole store. Nothing is cut.
func TestStoreVerbsRefuseACutBelowTheMark(t *testing.T) {
	dir := storeToCompact(t)
	seg := filepath.Join(dir, "0000000000000001.seg")
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-20); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"runs", "-store", dir},
		{"history", "-store", dir, "live"},
		{"inbox", "-store", dir},
		{"compact", "-store", dir},
	} {
		code, out, errOut := runMain(args...)
		if code != 1 || out != "" || !strings.Contains(errOut, seg) || !strings.Contains(errOut, "records that were durable are missing") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 naming the damage in %s", args, code, out, errOut, seg)
		}
	}
	if after, err := os.Stat(seg); err != nil || after.Size() != fi.Size()-20 {
		t.Errorf("segment changed: %v, %v", after, err)
	}
}

// A store another process holds (a running flowgen serve) is refused by
// compact, and the error says what to do about it: stop that process
// first, or read the store meanwhile with the read-only verbs. It said
// only "DIR is in use by another process", with no way out.
func TestStoreInUseSaysWhatToDo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a serve process")
	}
	dir := filepath.Join(t.TempDir(), "store")
	startServeProc(t, "-store", dir)
	code, _, stderr := runCLI("compact", "-store", dir)
	const want = "is in use by another process: a running flowgen serve, or compact, holds its LOCK; stop it first (runs, history and inbox read the store meanwhile)"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("compact of a store a serve holds: exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}
}
