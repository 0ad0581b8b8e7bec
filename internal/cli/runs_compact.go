package cli

// The compact verb: retention and compaction of a durable store, offline.
// Owned with runtime/store; registered by the init below.

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/flowgen/flowgen/internal/flagerr"
	"github.com/flowgen/flowgen/runtime/store"
)

func init() {
	verbs = append(verbs, compactVerb)
}

var compactVerb = &verb{
	name:  "compact",
	short: "remove finished runs older than -retain and expired inbox messages from a store",
	summary: `Compact rewrites a durable store (runtime/store) without the finished runs
whose last event is older than -retain (default 0: every run is kept) and
without the inbox messages that expired, then prints what it removed and
kept and the store's size before and after. Unfinished runs and messages
still in the inbox are always kept. A crash at any point leaves the store
as it was or compacted, never in between. The store must not be open: a
running "flowgen serve" holds it (and compacts it in the background, with
its own -retain, removing a finished run within a tenth of -retain more and
10 minutes, whatever the store's size), and compact refuses.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		dir := storeFlag(fs)
		retain := retainFlag(fs, "")
		return func(e *env, args []string) int {
			if len(args) != 0 {
				return usageError(e, "unexpected arguments %q", args)
			}
			if *dir == "" {
				return usageError(e, "-store is required")
			}
			if err := checkRetain(*retain); err != nil {
				return usageError(e, "%v", err)
			}
			st, err := openStore(*dir, false, store.Options{Retain: *retain, CompactEvery: -1})
			if err != nil {
				return failf(e, "compact: %v", err)
			}
			if tail, ok := st.TornTail(); ok {
				// Never silent: damage to the last records looks the
				// same as a write that never finished (docs/store.md).
				fmt.Fprintf(e.stderr, "flowgen: compact: warning: %v\n", tail)
			}
			before, err := st.Size()
			if err != nil {
				st.Close()
				return failf(e, "compact: %v", err)
			}
			stats, err := st.CompactAll(context.Background())
			if err != nil {
				st.Close()
				return failf(e, "compact: %v", err)
			}
			after, err := st.Size()
			if cerr := st.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return failf(e, "compact: %v", err)
			}
			fmt.Fprintf(e.stdout, "runs:     %d removed, %d kept\n", stats.RunsRemoved, stats.RunsKept)
			fmt.Fprintf(e.stdout, "messages: %d expired removed, %d kept\n", stats.MessagesRemoved, stats.MessagesKept)
			fmt.Fprintf(e.stdout, "records:  %d removed, %d kept\n", stats.RecordsRemoved, stats.RecordsKept)
			fmt.Fprintf(e.stdout, "size:     %d -> %d bytes (%s -> %s)\n", before, after, humanBytes(before), humanBytes(after))
			return exitOK
		}
	},
}

// retainFlag is the -retain flag of compact and serve: store.Options.Retain.
func retainFlag(fs *flag.FlagSet, how string) *time.Duration {
	if how != "" {
		how = ", " + how
	}
	return flagerr.Duration(fs, "retain", 0, "remove finished runs whose last event is older than this `duration` (e.g. 720h)"+how+"; 0 keeps every run")
}

func checkRetain(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("-retain must not be negative, found %v", d)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
