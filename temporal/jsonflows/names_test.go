package jsonflows

import (
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// The publisher and the waiting run derive an inbox's ID apart: the
// default correlation path must name the same inbox as the path spelled
// out, and what differs in the event or the correlation must not.
func TestInboxID(t *testing.T) {
	base := inboxKey{Topic: "payments", Event: "paid", Correlated: true, Value: "ann"}
	spelled := base
	spelled.Field = runtime.CorrelationField
	if inboxID(base) != inboxID(spelled) {
		t.Error("the default correlation path names another inbox")
	}
	w := &runtime.Wait{Topic: "payments", Event: "paid", Correlated: true, Correlation: "ann"}
	if inboxID(keyOfWait(w)) != inboxID(base) {
		t.Error("a wait and the publisher disagree on the inbox")
	}
	for _, other := range []inboxKey{
		{Topic: "payments", Event: "paid", Correlated: true, Value: "bob"},
		{Topic: "payments", Event: "refunded", Correlated: true, Value: "ann"},
		{Topic: "payments", Event: "paid", Correlated: true, Field: "order.id", Value: "ann"},
		{Topic: "payments", Event: "paid"},
	} {
		if inboxID(other) == inboxID(base) {
			t.Errorf("%+v shares the inbox of %+v", other, base)
		}
	}
}

func TestCronsOf(t *testing.T) {
	for in, want := range map[string]string{
		"@every 5m":                    "@every 5m",
		"0 3 * * *":                    "0 3 * * *",
		"TZ=Europe/Paris 0 3 * * *":    "CRON_TZ=Europe/Paris 0 3 * * *",
		"CRON_TZ=Asia/Tokyo 0 3 * * *": "CRON_TZ=Asia/Tokyo 0 3 * * *",
		// Temporal refuses "?", and fires "0 9 1 * MON" only on the
		// Mondays that are the 1st.
		"0 0 1 JAN ?":        "0 0 1 JAN *",
		"TZ=UTC 0 9 1 * MON": "CRON_TZ=UTC 0 9 1 * * | CRON_TZ=UTC 0 9 * * MON",
	} {
		got, err := cronsOf(in)
		if err != nil || strings.Join(got, " | ") != want {
			t.Errorf("cronsOf(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := quote(`it's`); got != `'it\'s'` {
		t.Errorf("quote: %s", got)
	}
}
