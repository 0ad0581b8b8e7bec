package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime/store"
)

var msgStates = []store.MessageState{store.MessagePending, store.MessageClaimed, store.MessageDead}

var inboxVerb = &verb{
	name:  "inbox",
	short: "list the awaited events and dead letters in a store's inbox",
	summary: `Inbox lists the messages an engine keeps in a durable store's inbox: the
events runs await, pending (no run has taken them yet) or claimed (taken by
the await whose idempotency key is shown), and the dead letters (never to be
delivered, with the reason), in the order they arrived. -state dead lists
the dead letters. The store is opened read-only.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		dir := storeFlag(fs)
		topic := fs.String("topic", "", "only messages of this `TOPIC`")
		event := fs.String("event", "", "only messages of this `EVENT`")
		state := fs.String("state", "", "only messages in this `STATE`: "+joinMsgStates())
		asJSON := fs.Bool("json", false, "print one JSON object per message, one per line, payload included")
		return func(e *env, args []string) int {
			if len(args) != 0 {
				return usageError(e, "unexpected arguments %q", args)
			}
			if *dir == "" {
				return usageError(e, "-store is required")
			}
			f := store.MessageFilter{Topic: *topic, Event: *event, State: store.MessageState(*state)}
			if f.State != "" && !slices.Contains(msgStates, f.State) {
				return usageError(e, "unknown -state %q; want one of %s", *state, joinMsgStates())
			}
			st, err := openStore(*dir, true, store.Options{})
			if err != nil {
				return failf(e, "%v", err)
			}
			defer st.Close()
			if *asJSON {
				// A page at a time, as GET /deadletters reads them (at
				// most engine.MaxListLimit messages and, past the first,
				// engine.MaxDeadLetterPageBytes of payloads): dead
				// letters alone may be 10,000, each with a payload as
				// large as the broker delivered it.
				enc := json.NewEncoder(e.stdout)
				f.Limit = engine.MaxListLimit
				for {
					ms, more, err := st.MessagePage(f, engine.MaxDeadLetterPageBytes)
					if err != nil {
						return failf(e, "%v", err)
					}
					for _, m := range ms {
						if err := enc.Encode(inboxJSON(m)); err != nil {
							return failf(e, "%v", err)
						}
					}
					if !more || len(ms) == 0 {
						return exitOK
					}
					f.After = ms[len(ms)-1].Key()
				}
			}
			f.NoPayload = true // the table shows none
			ms, err := st.Messages(f)
			if err != nil {
				return failf(e, "%v", err)
			}
			tw := newTable(e.stdout)
			fmt.Fprintln(tw, "TOPIC\tEVENT\tID\tSTATE\tRECEIVED\tUPDATED\tCLAIMED BY / REASON")
			for _, m := range ms {
				detail := m.ClaimedBy
				if m.State == store.MessageDead {
					detail = firstLineMore(m.Reason)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shown(m.Topic), shown(m.Event), shown(m.ID), m.State,
					m.Received.Format(timeLayout), m.Updated.Format(timeLayout), shown(dash(detail)))
			}
			tw.Flush()
			return exitOK
		}
	},
}

// inboxMessage is a message's -json form: a payload that is not JSON in
// UTF-8 is printed as payload_text (engine.ShowPayload), as GET
// /deadletters shows it.
type inboxMessage struct {
	store.Message
	Payload     json.RawMessage `json:"payload,omitempty"`
	PayloadText string          `json:"payload_text,omitempty"`
}

func inboxJSON(m store.Message) inboxMessage {
	out := inboxMessage{Message: m}
	out.Payload, out.PayloadText = engine.ShowPayload(m.Payload)
	return out
}

func joinMsgStates() string {
	names := make([]string, len(msgStates))
	for i, s := range msgStates {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
