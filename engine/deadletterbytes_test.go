package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// A GET /deadletters page holds, past its first dead letter, at most
// MaxDeadLetterPageBytes of payloads, as a history page holds at most
// MaxHistoryPageBytes: a dead letter's payload is what a broker delivered
// (a publisher on NATS, up to its max_payload; an event larger than the
// inbox's bound, dead-lettered for that), and ?limit=1000 of them was an
// answer of a gigabyte, read whole into memory. Following the cursors
// lists every dead letter once, the page cut by its bytes saying
// "truncated" as one cut by its limit does; a dead letter larger than the
// bound comes alone, so that the pages move on. On both stores, and on an
// inbox store that lists the messages whole (no MessagePage).
func TestDeadLettersPageBytes(t *testing.T) {
	for _, name := range []string{"memory", "durable", "listed"} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			if name == "listed" {
				fx.st = listingInbox{fx.st.(*store.Memory)}
			}
			if name == "durable" {
				useDurableStore(t, fx)
			}
			in := fx.st.(InboxStore)
			at := time.Now()
			// Each a third of the bound and more: two make a page, and a
			// third would pass the bound. One is larger than the bound.
			third := `{"x":"` + strings.Repeat("a", MaxDeadLetterPageBytes/3+10) + `"}`
			huge := `{"x":"` + strings.Repeat("b", MaxDeadLetterPageBytes+10) + `"}`
			payloads := []string{third, third, third, huge, `{}`, third}
			var want []string
			for i, p := range payloads {
				id := fmt.Sprintf("m-%d", i)
				m := store.Message{Topic: "orders", Event: "order.placed", ID: id, Payload: json.RawMessage(p), Received: at}
				if err := in.DeadLetter(context.Background(), m, "test", at); err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
			}
			e := fx.start()
			defer fx.stop()
			c := apiClient{t, httptest.NewServer(e.Handler())}
			defer c.srv.Close()

			var pages [][]string
			cursor := ""
			for len(pages) <= len(payloads) {
				q := "/deadletters?limit=1000"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				status, body := c.do("GET", q, "")
				if status != 200 {
					t.Fatalf("GET %s: %d %v", q, status, body)
				}
				var ids []string
				size := 0
				for i, d := range body["dead_letters"].([]any) {
					dl := d.(map[string]any)
					ids = append(ids, dl["id"].(string))
					p, _ := json.Marshal(dl["payload"])
					if i > 0 {
						size += len(p)
					}
				}
				if size > MaxDeadLetterPageBytes {
					t.Errorf("GET %s: %v, %d bytes of payloads past the first, more than %d", q, ids, size, MaxDeadLetterPageBytes)
				}
				pages = append(pages, ids)
				next, _ := body["next_cursor"].(string)
				if (next != "") != (body["truncated"] == true) {
					t.Fatalf("GET %s: next_cursor %q, truncated %v: want both or neither", q, next, body["truncated"])
				}
				if next == "" {
					break
				}
				cursor = next
			}
			wantPages := [][]string{{"m-0", "m-1"}, {"m-2"}, {"m-3"}, {"m-4", "m-5"}}
			if !slices.EqualFunc(pages, wantPages, slices.Equal) {
				t.Errorf("pages %v, want %v", pages, wantPages)
			}
			if got := slices.Concat(pages...); !slices.Equal(got, want) {
				t.Errorf("the pages listed %v, want each dead letter once: %v", got, want)
			}
		})
	}
}

// listingInbox is a store whose inbox has no MessagePage (the method
// below, of another signature, hides store.Memory's): the engine lists
// the messages, then cuts its page.
type listingInbox struct{ *store.Memory }

func (listingInbox) MessagePage() {}
