//go:build linux

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// TestInboxVerbMemoryBounded: inbox reads the inbox a page at a time with
// -json, and no payload at all for the table, which shows none: what it
// holds follows a page, not the inbox (dead letters alone may be 10,000,
// each with a payload as large as the broker delivered it). Before, it
// read every payload of every message listed, whichever it printed.
func TestInboxVerbMemoryBounded(t *testing.T) {
	const messages, payloadBytes = 32, 2 << 20
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{SegmentSize: 1 << 20}) // as in TestHistoryVerbMemoryBounded
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, topic := range []struct {
		name string
		pad  int
	}{{"small", 1}, {"big", payloadBytes}} {
		p := json.RawMessage(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", topic.pad)))
		for i := range messages {
			m := store.Message{Topic: topic.name, Event: "e", ID: fmt.Sprint(i), Payload: p, Received: t0}
			if _, _, err := st.PutMessage(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	checkPagedJSON(t, messages, func(i int) string { return fmt.Sprintf(`"id":"%d",`, i) }, "inbox", "-store", dir, "-json", "-topic", "big")
	checkPeakBounded(t, "inbox", messages*payloadBytes, func(json bool, topic string) []string {
		if json {
			return []string{"inbox", "-store", dir, "-json", "-topic", topic}
		}
		return []string{"inbox", "-store", dir, "-topic", topic}
	})
}
