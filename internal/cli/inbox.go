package cli

import (
	"encoding/json"
	"errors"
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
the dead letters. The store is opened read-only.

The messages are read and printed a page at a time, as GET /deadletters
pages the dead letters (1,000 messages and, with -json, 4 MiB of payloads
past the first; the table's columns are aligned a page at a time). -limit N
prints one page of at most N messages and, when more follow, says on stderr
the -cursor of the next page: the cursor GET /deadletters answers as
next_cursor, so that either continues the other's pages. -order newest
lists the latest messages first.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		dir := storeFlag(fs)
		topic := fs.String("topic", "", "only messages of this `TOPIC`")
		event := fs.String("event", "", "only messages of this `EVENT`")
		state := fs.String("state", "", "only messages in this `STATE`: "+joinMsgStates())
		asJSON := fs.Bool("json", false, "print one JSON object per message, one per line, payload included")
		pages := addPageFlags(fs, "inbox", "message", "messages", "the order they arrived", "GET /deadletters")
		return func(e *env, args []string) int {
			if len(args) != 0 {
				return usageError(e, "unexpected arguments %q", args)
			}
			if *dir == "" {
				return usageError(e, "-store is required")
			}
			f := store.MessageFilter{Topic: *topic, Event: *event, State: store.MessageState(*state)}
			page, newest, code, ok := pages.read(e, func(c string) (err error) {
				f.After, err = engine.MessageCursorAfter(c)
				return err
			})
			if !ok {
				return code
			}
			f.Newest, f.Limit = newest, page
			if f.State != "" && !slices.Contains(msgStates, f.State) {
				return badChoice(e, "state", *state, "one of "+joinMsgStates(), msgStateNames())
			}
			st, err := openStore(*dir, true, store.Options{})
			if err != nil {
				return failf(e, "%v", err)
			}
			defer st.Close()
			// A page at a time, as GET /deadletters reads them (at most
			// -limit or engine.MaxListLimit messages and, with -json, past the
			// first, engine.MaxDeadLetterPageBytes of payloads; the
			// table shows none and reads none): dead letters alone may
			// be 10,000, each with a payload as large as the broker
			// delivered it, and pending messages are bounded by the
			// engine's inbox bound alone.
			var enc *json.Encoder
			tw := newTable(e.stdout)
			if *asJSON {
				enc = json.NewEncoder(e.stdout)
			} else {
				f.NoPayload = true
				fmt.Fprintln(tw, "TOPIC\tEVENT\tID\tSTATE\tRECEIVED\tUPDATED\tCLAIMED BY / REASON")
			}
			for first := true; ; first = false {
				ms, more, err := st.MessagePage(f, engine.MaxDeadLetterPageBytes)
				if errors.Is(err, store.ErrUnknownMessage) && first && *pages.cursor != "" {
					return failf(e, "-cursor %q names message %s, which the inbox no longer keeps: list again from the start", *pages.cursor, f.After)
				}
				if errors.Is(err, store.ErrUnknownMessage) {
					// Another process expired it while this one read the inbox.
					return failf(e, "message %s, which the next page continues after, is no longer in the inbox: list again", f.After)
				}
				if err != nil {
					return failf(e, "%v", err)
				}
				for _, m := range ms {
					if enc != nil {
						if err := enc.Encode(inboxJSON(m)); err != nil {
							return failf(e, "%v", err)
						}
						continue
					}
					detail := m.ClaimedBy
					if m.State == store.MessageDead {
						detail = firstLineMore(m.Reason)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shown(m.Topic), shown(m.Event), shown(m.ID), m.State,
						m.Received.Format(timeLayout), m.Updated.Format(timeLayout), shown(dash(detail)))
				}
				tw.Flush()
				if !more || len(ms) == 0 {
					return exitOK
				}
				f.After = ms[len(ms)-1].Key()
				if pages.stop(e, engine.MessageCursor(f.After)) {
					return exitOK
				}
			}
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

func joinMsgStates() string { return strings.Join(msgStateNames(), ", ") }

func msgStateNames() []string {
	names := make([]string, len(msgStates))
	for i, s := range msgStates {
		names[i] = string(s)
	}
	return names
}
