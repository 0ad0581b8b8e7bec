package runtime

import (
	"context"
	"slices"
	"testing"
)

// A publication's message ID is its action's idempotency key, the topic
// and the event, numbered from the second publication of one topic and
// event in an attempt: two publications of one topic and event are two
// messages (with the key alone, the second was the first again to its
// receivers, and dropped), and the next attempt numbers them the same.
func TestPublicationID(t *testing.T) {
	attempt := func(n int32) context.Context {
		return &stepCtx{Context: context.Background(), env: &runEnv{runID: "r1"}, step: "Notify", visit: 1, attempt: n}
	}
	var got [][]string
	for n := int32(1); n <= 2; n++ {
		ctx := attempt(n)
		got = append(got, []string{PublicationID(ctx, "mail", "send"), PublicationID(ctx, "mail", "sent"), PublicationID(ctx, "mail", "send"), PublicationID(ctx, "mail", "send")})
	}
	want := []string{"r1/Notify>mail/send", "r1/Notify>mail/sent", "r1/Notify>mail/send#2", "r1/Notify>mail/send#3"}
	for i, ids := range got {
		if !slices.Equal(ids, want) {
			t.Errorf("attempt %d: %q, want %q", i+1, ids, want)
		}
	}
	if id := PublicationID(context.Background(), "mail", "send"); id != "" {
		t.Errorf("outside a step: %q, want none", id)
	}
}
