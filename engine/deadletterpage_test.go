package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// GET /deadletters answers a page, as GET /runs does: at most ?limit= dead
// letters (default DefaultListLimit, from 1 to MaxListLimit, else 400),
// the first that arrived, and "truncated": true when more are kept (narrow
// with topic and event; `flowgen inbox -state dead` lists them all). The
// answer no longer grows with every dead letter the retention keeps.
func TestDeadLettersPage(t *testing.T) {
	fx := newFixture(t)
	n := DefaultListLimit + 1
	at := time.Now()
	for i := range n {
		m := store.Message{Topic: "orders", Event: "order.placed", ID: fmt.Sprintf("m-%03d", i), Payload: json.RawMessage(`{}`), Received: at}
		if err := fx.st.(*store.Memory).DeadLetter(context.Background(), m, "test", at); err != nil {
			t.Fatal(err)
		}
	}
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	for _, tc := range []struct {
		query     string
		want      int
		truncated bool
	}{
		{"", DefaultListLimit, true},
		{"?limit=2", 2, true},
		{"?topic=orders&limit=" + fmt.Sprint(MaxListLimit), n, false},
	} {
		status, body := c.do("GET", "/deadletters"+tc.query, "")
		dls, _ := body["dead_letters"].([]any)
		if status != 200 || len(dls) != tc.want || (body["truncated"] == true) != tc.truncated {
			t.Fatalf("GET /deadletters%s: %d, %d dead letters, truncated %v; want 200, %d, %v", tc.query, status, len(dls), body["truncated"], tc.want, tc.truncated)
		}
		if id := dls[0].(map[string]any)["id"]; id != "m-000" {
			t.Errorf("GET /deadletters%s starts with %v, want the first that arrived", tc.query, id)
		}
	}
	for _, q := range []string{"0", "-1", fmt.Sprint(MaxListLimit + 1), "x"} {
		if status, body := c.do("GET", "/deadletters?limit="+q, ""); status != 400 {
			t.Errorf("GET /deadletters?limit=%s: %d %v, want 400", q, status, body)
		}
	}
}

// GET /deadletters pages with a cursor, as GET /runs does: next_cursor,
// there with "truncated", is the ?cursor= of the next page. Following it
// lists every dead letter once, in the order they arrived (or newest first
// with ?order=newest, anything but newest or oldest being 400), on both
// stores, while a letter arrives between two pages (oldest first it comes
// on a later page; newest first it is before the first, on none). A
// cursor GET /deadletters did not answer, or whose letter the inbox no
// longer keeps, is 400 and changes nothing; GET /runs refuses it too.
func TestDeadLettersCursor(t *testing.T) {
	for _, name := range []string{"memory", "durable"} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			if name == "durable" {
				useDurableStore(t, fx)
			}
			in := fx.st.(InboxStore)
			at := time.Now()
			var want []string
			add := func(topic, id string) {
				t.Helper()
				m := store.Message{Topic: topic, Event: "order.placed", ID: id, Payload: json.RawMessage(`{}`), Received: at}
				if err := in.DeadLetter(context.Background(), m, "test", at); err != nil {
					t.Fatal(err)
				}
				if topic == "orders" {
					want = append(want, id)
				}
			}
			for i := range 25 {
				add("orders", fmt.Sprintf("m-%03d", i))
				if i%3 == 0 {
					add("other", fmt.Sprintf("o-%03d", i))
				}
			}
			e := fx.start()
			defer fx.stop()
			c := apiClient{t, httptest.NewServer(e.Handler())}
			defer c.srv.Close()
			list := func(query string) (ids []string, next string) {
				t.Helper()
				status, body := c.do("GET", "/deadletters?"+query, "")
				if status != 200 {
					t.Fatalf("GET /deadletters?%s: %d %v", query, status, body)
				}
				for _, d := range body["dead_letters"].([]any) {
					ids = append(ids, d.(map[string]any)["id"].(string))
				}
				next, _ = body["next_cursor"].(string)
				if (next != "") != (body["truncated"] == true) {
					t.Fatalf("GET /deadletters?%s: next_cursor %q, truncated %v: want both or neither", query, next, body["truncated"])
				}
				return ids, next
			}

			// pages follows next_cursor from the first page of order,
			// with a letter (of late, and one of another topic) arriving
			// after the second page.
			pages := func(order, late string) (got []string) {
				t.Helper()
				cursor := ""
				for page := 0; ; page++ {
					q := "topic=orders&limit=4&order=" + order
					if cursor != "" {
						q += "&cursor=" + url.QueryEscape(cursor)
					}
					ids, next := list(q)
					got = append(got, ids...)
					if next == "" {
						return got
					}
					if page == 1 {
						add("orders", late)
						add("other", late)
					}
					if page > 10 {
						t.Fatalf("still paging after %d pages: %v", page, got)
					}
					cursor = next
				}
			}
			// Oldest first, the letter that arrives comes on a later page.
			if got := pages("oldest", "late"); !slices.Equal(got, want) {
				t.Fatalf("pages oldest first listed %v, want %v", got, want)
			}
			// Newest first, it is newer than the first page: on none.
			newest := slices.Clone(want)
			slices.Reverse(newest)
			if got := pages("newest", "later"); !slices.Equal(got, newest) {
				t.Fatalf("pages newest first listed %v, want %v", got, newest)
			}
			if ids, _ := list("topic=orders&limit=1&order=newest"); !slices.Equal(ids, []string{"later"}) {
				t.Errorf("newest first, the first page is %v, want the letter that arrived last", ids)
			}
			for _, bad := range []string{"Newest", "desc", "x"} {
				if status, body := c.do("GET", "/deadletters?order="+bad, ""); status != 400 {
					t.Errorf("GET /deadletters?order=%s: %d %v, want 400", bad, status, body)
				}
			}

			for _, bad := range []string{
				"x",
				runsCursor.encode("m-000"),
				deadLetterCursor.encode("orders", "order.placed"),
				deadLetterCursor.encode("orders", "order.placed", "m-000", "x"),
				deadLetterCursor.encode("orders", "order.placed", "never"),
				deadLetterCursor.prefix + "!!.a.b",
				"d2." + deadLetterCursor.encode("orders", "order.placed", "m-000")[3:],
			} {
				if status, body := c.do("GET", "/deadletters?cursor="+url.QueryEscape(bad), ""); status != 400 {
					t.Errorf("GET /deadletters?cursor=%s: %d %v, want 400", bad, status, body)
				}
			}
			first := deadLetterCursor.encode("orders", "order.placed", "m-000")
			if status, body := c.do("GET", "/runs?cursor="+url.QueryEscape(first), ""); status != 400 {
				t.Errorf("GET /runs with a cursor of GET /deadletters: %d %v, want 400", status, body)
			}
			if ids, _ := list("topic=orders&limit=1000"); !slices.Equal(ids, want) {
				t.Errorf("after the bad cursors, the dead letters are %v, want %v", ids, want)
			}
			if ids, _ := list("topic=orders&limit=2&cursor=" + url.QueryEscape(first)); !slices.Equal(ids, want[1:3]) {
				t.Errorf("after m-000: %v, want %v", ids, want[1:3])
			}
			tenth := deadLetterCursor.encode("orders", "order.placed", "m-010")
			if ids, _ := list("topic=orders&limit=2&order=newest&cursor=" + url.QueryEscape(tenth)); !slices.Equal(ids, []string{"m-009", "m-008"}) {
				t.Errorf("newest first after m-010: %v, want [m-009 m-008]", ids)
			}
		})
	}
}

// useDurableStore gives fx a store on disk (store.Store) in place of its
// store in memory.
func useDurableStore(t *testing.T, fx *fixture) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx.st = st
}
