package runtime_test

import (
	"errors"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// An await's timeout error named the topic and the event side by side
// ("no customers cancel.confirmed by ..."), which read as one phrase, and
// left out the correlation the run waited for: it names them now as
// flowgen history names what a waiting run waits for.
func TestAwaitTimeoutErrorNamesTheEvent(t *testing.T) {
	at := time.Date(2026, 12, 6, 20, 54, 39, 0, time.UTC)
	for _, c := range []struct {
		w    runtime.Wait
		want string
	}{
		{runtime.Wait{Topic: "customers", Event: "cancel.confirmed", Deadline: at},
			`runtime: timeout: no event "cancel.confirmed" on topic "customers" by 2026-12-06T20:54:39Z`},
		{runtime.Wait{Topic: "customers", Event: "cancel.confirmed", Correlated: true, Correlation: "sub-1", Deadline: at},
			`runtime: timeout: no event "cancel.confirmed" on topic "customers" with correlation_id "sub-1" by 2026-12-06T20:54:39Z`},
		{runtime.Wait{Topic: "payments", Event: "paid", Correlated: true, Field: "order.id", Correlation: "o-1", Deadline: at},
			`runtime: timeout: no event "paid" on topic "payments" with order.id "o-1" by 2026-12-06T20:54:39Z`},
		// The wait of a Go step served by remote providers read as an
		// await of an event "Charge" on a topic "flowgen/provider".
		{runtime.Wait{Topic: "flowgen/provider", Event: "Charge", Deadline: at},
			`runtime: timeout: no provider of handler "Charge" registered by 2026-12-06T20:54:39Z`},
		{runtime.Wait{Topic: "flowgen/provider-rollback", Event: "Refund", Deadline: at},
			`runtime: timeout: no provider of rollback handler "Refund" registered by 2026-12-06T20:54:39Z`},
	} {
		err := c.w.TimeoutError()
		if !errors.Is(err, runtime.ErrTimeout) || err.Error() != c.want {
			t.Errorf("TimeoutError() = %q, want %q wrapping ErrTimeout", err, c.want)
		}
	}
}

// Awaited is the one home of how an await's event is named: the timeout
// error above and flowgen history's line of a waiting run both say it.
func TestAwaitedNamesTheEventAndItsCorrelation(t *testing.T) {
	for _, c := range []struct {
		w    runtime.Wait
		want string
	}{
		{runtime.Wait{Topic: "customers", Event: "cancel.confirmed"}, `event "cancel.confirmed" on topic "customers"`},
		{runtime.Wait{Topic: "payments", Event: "paid", Correlated: true, Field: "order.id", Correlation: "o-1"},
			`event "paid" on topic "payments" with order.id "o-1"`},
		{runtime.Wait{Topic: "flowgen/provider", Event: "Charge"}, `a provider of handler "Charge"`},
		{runtime.Wait{Topic: "flowgen/provider-rollback", Event: "Refund"}, `a provider of rollback handler "Refund"`},
	} {
		if got := c.w.Awaited(); got != c.want {
			t.Errorf("Awaited() = %q, want %q", got, c.want)
		}
	}
}
