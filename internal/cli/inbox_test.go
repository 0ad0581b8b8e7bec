package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowgen/flowgen/runtime/store"
	"github.com/google/go-cmp/cmp"
)

// storeWithInbox writes an inbox: a pending message, a claimed one, and two
// dead letters (one whose payload is not JSON, one not UTF-8).
func storeWithInbox(t *testing.T) string {
	t.Helper()
	dir, st := newStore(t)
	defer st.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	msg := func(topic, event, id, payload string, s int) store.Message {
		return store.Message{Topic: topic, Event: event, ID: id, Payload: json.RawMessage(payload), Received: at(s)}
	}
	for _, m := range []store.Message{
		msg("payments", "paid", "p-1", `{"correlation_id":"o-1"}`, 1),
		msg("payments", "paid", "p-2", `{"correlation_id":"o-2"}`, 2),
	} {
		if _, _, err := st.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.ClaimMessage(ctx, store.MessageKey{Topic: "payments", Event: "paid", ID: "p-1"}, "o-1/AwaitPayment", at(3)); err != nil {
		t.Fatal(err)
	}
	if err := st.DeadLetter(ctx, msg("orders", "placed", "bad", `{"order_id": `, 0), "cannot start flow Order: unexpected end of JSON input", at(4)); err != nil {
		t.Fatal(err)
	}
	if err := st.DeadLetter(ctx, msg("orders", "placed", "worse", "[\"\xff\"]", 0), "line one\nline two", at(5)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestInboxVerb(t *testing.T) {
	dir := storeWithInbox(t)
	code, out, errOut := runMain("inbox", "-store", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `TOPIC     EVENT   ID     STATE    RECEIVED                  UPDATED                   CLAIMED BY / REASON
payments  paid    p-1    claimed  2026-05-04T10:00:01.000Z  2026-05-04T10:00:03.000Z  o-1/AwaitPayment
payments  paid    p-2    pending  2026-05-04T10:00:02.000Z  2026-05-04T10:00:02.000Z  -
orders    placed  bad    dead     2026-05-04T10:00:04.000Z  2026-05-04T10:00:04.000Z  cannot start flow Order: unexpected end of JSON input
orders    placed  worse  dead     2026-05-04T10:00:05.000Z  2026-05-04T10:00:05.000Z  line one (+1 lines, see -json)
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("inbox (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		args []string
		ids  []string
	}{
		{[]string{"-state", "dead"}, []string{"bad", "worse"}},
		{[]string{"-topic", "payments"}, []string{"p-1", "p-2"}},
		{[]string{"-topic", "payments", "-event", "paid", "-state", "pending"}, []string{"p-2"}},
		{[]string{"-event", "nope"}, nil},
	} {
		code, out, errOut := runMain(append([]string{"inbox", "-json", "-store", dir}, c.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, errOut)
		}
		if !utf8.ValidString(out) {
			t.Errorf("%v: the output is not UTF-8: %q", c.args, out)
		}
		var ids []string
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var m inboxMessage
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
			if m.ID == "bad" && (m.PayloadText != `{"order_id": ` || m.Payload != nil || m.State != store.MessageDead) {
				t.Errorf("a payload that is not JSON: %+v", m)
			}
			if m.ID == "worse" && (m.PayloadText != "[\"\uFFFD\"]" || m.Payload != nil) {
				t.Errorf("a payload that is not UTF-8: %+v", m)
			}
			if m.ID == "p-1" && (string(m.Payload) != `{"correlation_id":"o-1"}` || m.ClaimedBy != "o-1/AwaitPayment") {
				t.Errorf("claimed message: %+v", m)
			}
		}
		if diff := cmp.Diff(c.ids, ids); diff != "" {
			t.Errorf("inbox %v (-want +got):\n%s", c.args, diff)
		}
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"inbox"}, 2, "-store is required"},
		{[]string{"inbox", "-store", dir, "-state", "expired"}, 2, `unknown -state "expired"; want one of pending, claimed, dead` + "\n"},
		{[]string{"inbox", "-store", dir, "-state", "claimd"}, 2, `unknown -state "claimd"; want one of pending, claimed, dead; did you mean "claimed"?` + "\n"},
		{[]string{"inbox", "-store", dir, "extra"}, 2, "unexpected arguments"},
		{[]string{"inbox", "-store", dir + "/missing"}, 1, "holds no store"},
	} {
		code, _, errOut := runMain(c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}
