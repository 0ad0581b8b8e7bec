package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkInboxPaging reads a durable store's inbox of n messages twice,
// interleaved: whole (one Messages) and a page at a time (MessagePage of
// 1,000 after the last of the page before, as `flowgen inbox` and a client
// of GET /deadletters read it), both without payloads, as the table of
// `flowgen inbox` reads them. x-paged is the paged read's time over the
// whole read's: about 1 when a page costs its own entries, and growing
// with n when each page looks at the whole inbox (docs/benchmarks.md):
//
//	go test -run '^$' -bench InboxPaging -benchtime 3x ./runtime/store/
func BenchmarkInboxPaging(b *testing.B) {
	for _, n := range []int{30_000, 300_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
			batch := make([]Message, 0, 1000)
			for i := range n {
				batch = append(batch, msg("payments", "paid", fmt.Sprintf("m-%07d", i), `{"amount":1}`, at))
				if len(batch) == cap(batch) || i == n-1 {
					if _, _, err := st.PutMessages(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			var whole, paged time.Duration
			b.ResetTimer()
			for range b.N {
				t := time.Now()
				ms, err := st.Messages(MessageFilter{NoPayload: true})
				if err != nil || len(ms) != n {
					b.Fatalf("whole: %d messages, %v", len(ms), err)
				}
				whole += time.Since(t)

				t = time.Now()
				f, got := MessageFilter{NoPayload: true, Limit: 1000}, 0
				for {
					ms, more, err := st.MessagePage(f, 4<<20)
					if err != nil {
						b.Fatal(err)
					}
					got += len(ms)
					if !more {
						break
					}
					f.After = ms[len(ms)-1].Key()
				}
				paged += time.Since(t)
				if got != n {
					b.Fatalf("paged: %d messages, want %d", got, n)
				}
			}
			b.ReportMetric(float64(whole)/1e6/float64(b.N), "ms/whole")
			b.ReportMetric(float64(paged)/1e6/float64(b.N), "ms/paged")
			b.ReportMetric(float64(paged)/float64(whole), "x-paged")
		})
	}
}
