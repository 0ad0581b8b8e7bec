package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flowgen/flowgen/examples/internal/demo"
	"github.com/flowgen/flowgen/runtime"
)

// The fake services of the shop, in the process. Each implements the
// typed port that the flow calling it generates (OrderInventory,
// OrderPayments, OrderShipping, VisitConcierge, CancelVisitConcierge) in plain Go: the methods
// take and return the state's types, so a port of the wrong type would not
// compile. Over a network, a port is a gRPC or Connect client of the same
// shape (docs/runtime.md, "Typed service ports"), or
// OrderServicesFromCaller(httpcall.New(...)).
//
// Every record keeps the idempotency key of the call that made it (the run,
// the step), so a call repeated after a crash returns what the first one
// made, and the program and its tests can say what each run did.

// world is the services' shared data.
type world struct {
	mu   sync.Mutex
	path string // "" keeps the data in memory only
	data worldData
}

type worldData struct {
	Reservations   []record `json:"reservations"`
	Authorizations []record `json:"authorizations"`
	Bookings       []record `json:"bookings"`
	Shipments      []record `json:"shipments"`
}

// record is one thing a service made.
type record struct {
	ID     string `json:"id"`
	What   string `json:"what"`
	Key    string `json:"key"` // idempotency key of the call that made it
	Undone bool   `json:"undone,omitempty"`
}

// openWorld loads the services' data from dir ("" for none), the file
// demo.ServicesFile beside the store's.
func openWorld(dir string) (*world, error) {
	w := &world{}
	path, err := demo.LoadServices(dir, &w.data)
	if err != nil {
		return nil, err
	}
	w.path = path
	return w, nil
}

// make returns the record of *list made under ctx's idempotency key, or
// makes one (ID prefix-N) and saves.
func (w *world) make(ctx context.Context, list *[]record, prefix, what string) (string, error) {
	key := runtime.IdempotencyKey(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range *list {
		if r.Key == key {
			return r.ID, nil
		}
	}
	id := fmt.Sprintf("%s-%d", prefix, len(*list)+1)
	*list = append(*list, record{ID: id, What: what, Key: key})
	return id, w.save()
}

// undo marks the record id of *list undone (again: a no-op) and saves.
func (w *world) undo(list *[]record, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range *list {
		if (*list)[i].ID == id {
			(*list)[i].Undone = true
			return w.save()
		}
	}
	return runtime.Permanent(fmt.Errorf("no record %q", id))
}

// save writes the data (demo.SaveServices). Called with mu held.
func (w *world) save() error { return demo.SaveServices(w.path, w.data) }

// inventory implements OrderInventory.
type inventory struct{ *world }

// StockReserve holds the items. Its first attempt in every run fails, as a
// busy warehouse does, to show a retry (which the idempotency key makes
// safe); a unicorn is never in stock, which the warehouse says only once
// the card is authorised (the other branch of Prepare), so that the demo
// shows a branch failing after the other completed, whose work is undone.
func (s inventory) StockReserve(ctx context.Context, items []Item) (string, error) {
	if runtime.Attempt(ctx) == 1 {
		return "", errors.New("inventory: too busy, try again")
	}
	var what []string
	for _, it := range items {
		if it.SKU == "unicorn" {
			if err := s.authorized(ctx); err != nil {
				return "", err
			}
			return "", runtime.Permanent(errors.New("inventory: no unicorn in stock"))
		}
		what = append(what, fmt.Sprintf("%d %s", it.Quantity, it.SKU))
	}
	return s.make(ctx, &s.data.Reservations, "res", strings.Join(what, ", "))
}

// StockRelease puts the items back on the shelf.
func (s inventory) StockRelease(_ context.Context, reservation string) error {
	return s.undo(&s.data.Reservations, reservation)
}

// payments implements OrderPayments.
type payments struct{ *world }

// declined is a card number the bank always declines.
const declined = "4000 0000 0000 0002"

// CardAuthorize holds the amount on the card.
func (s payments) CardAuthorize(ctx context.Context, c Card) (Authorization, error) {
	if c.Number == declined {
		// A slow bank: it declines only once the warehouse (the other
		// branch of Prepare) has reserved the stock, so the demo shows a
		// branch failing after the other completed, whose work is undone.
		if err := s.reserved(ctx); err != nil {
			return Authorization{}, err
		}
		return Authorization{}, runtime.Permanent(errors.New("payments: card declined"))
	}
	id, err := s.make(ctx, &s.data.Authorizations, "auth", fmt.Sprintf("%d EUR", c.Amount))
	return Authorization{ID: id, Amount: c.Amount}, err
}

// reserved waits until the stock of ctx's run is reserved, or ctx ends.
func (s payments) reserved(ctx context.Context) error {
	return s.until(ctx, func(e effects) bool { return len(e.reservations) > 0 })
}

// authorized waits until the card of ctx's run is authorised, or ctx ends.
func (s inventory) authorized(ctx context.Context) error {
	return s.until(ctx, func(e effects) bool { return len(e.authorizations) > 0 })
}

// until waits until the effects of ctx's run satisfy done, or ctx ends.
func (w *world) until(ctx context.Context, done func(effects) bool) error {
	run, _, _ := strings.Cut(runtime.IdempotencyKey(ctx), "/")
	for !done(w.of(run)) {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// CardVoid lets the hold go.
func (s payments) CardVoid(_ context.Context, a Authorization) error {
	return s.undo(&s.data.Authorizations, a.ID)
}

// concierge implements VisitConcierge and CancelVisitConcierge.
type concierge struct{ *world }

// ConciergeBook books a concierge; nobody delivers to Mr Nobody, and the
// booking for Godot never comes: it waits until the call is cancelled (the
// order aborted while its child run books).
func (s concierge) ConciergeBook(ctx context.Context, c Contact) (Booking, error) {
	switch c.Name {
	case "Nobody":
		return Booking{}, runtime.Permanent(errors.New("concierge: nobody free for Nobody"))
	case godot:
		<-ctx.Done()
		return Booking{}, context.Cause(ctx)
	}
	id, err := s.make(ctx, &s.data.Bookings, "bk", "for "+c.Name)
	return Booking{ID: id, Concierge: "Jeeves"}, err
}

// godot is a customer whose concierge never comes.
const godot = "Godot"

// ConciergeCancel cancels the booking.
func (s concierge) ConciergeCancel(_ context.Context, b Booking) error {
	return s.undo(&s.data.Bookings, b.ID)
}

// shipping implements OrderShipping.
type shipping struct{ *world }

// ShipExpress sends the parcel by express.
func (s shipping) ShipExpress(ctx context.Context, p Parcel) (string, error) {
	return s.ship(ctx, p, "express")
}

// ShipStandard sends the parcel by standard post.
func (s shipping) ShipStandard(ctx context.Context, p Parcel) (string, error) {
	return s.ship(ctx, p, "standard")
}

// ship sends the parcel; there is no road to Atlantis.
func (s shipping) ship(ctx context.Context, p Parcel, how string) (string, error) {
	if p.Address == "Atlantis" {
		return "", runtime.Permanent(fmt.Errorf("shipping: no %s route to Atlantis", how))
	}
	return s.make(ctx, &s.data.Shipments, "trk", how+" to "+p.Address)
}

// services are the ports of flow Order over w.
func (w *world) services() OrderServices {
	return OrderServices{
		Inventory: inventory{w},
		Payments:  payments{w},
		Shipping:  shipping{w},
	}
}

// visitServices are the ports of flow Visit over w.
func (w *world) visitServices() VisitServices {
	return VisitServices{Concierge: concierge{w}}
}

// cancelVisitServices are the ports of flow CancelVisit over w.
func (w *world) cancelVisitServices() CancelVisitServices {
	return CancelVisitServices{Concierge: concierge{w}}
}

// effects is what the services hold of one run.
type effects struct {
	reservations, authorizations, bookings, shipments []record
}

// of returns what the services made for run runID.
func (w *world) of(runID string) effects {
	w.mu.Lock()
	defer w.mu.Unlock()
	pick := func(list []record) []record {
		var out []record
		for _, r := range list {
			if rootRun(r.Key) == runID {
				out = append(out, r)
			}
		}
		return out
	}
	return effects{pick(w.data.Reservations), pick(w.data.Authorizations), pick(w.data.Bookings), pick(w.data.Shipments)}
}

// rootRun is the run whose work an idempotency key is for: the run of
// the key, or for a child run's key (the concierge's visit), the order
// that started the child.
func rootRun(key string) string {
	k, ok := runtime.ParseKey(key)
	if !ok {
		return ""
	}
	run := k.RunID
	for {
		parent, _, ok := runtime.ParseChildRunID(run)
		if !ok {
			return run
		}
		run = parent.RunID
	}
}

// String says what a run did to the world, in the order it happened:
// "stock res-1 (2 book) reserved then released; ...".
func (e effects) String() string {
	var parts []string
	add := func(noun, made, undone string, list []record) {
		for _, r := range list {
			s := fmt.Sprintf("%s %s (%s) %s", noun, r.ID, r.What, made)
			if r.Undone {
				s += " then " + undone
			}
			parts = append(parts, s)
		}
	}
	add("stock", "reserved", "released", e.reservations)
	add("card", "authorized", "voided", e.authorizations)
	add("concierge", "booked", "cancelled", e.bookings)
	add("parcel", "sent", "", e.shipments)
	if len(parts) == 0 {
		return "nothing done"
	}
	return strings.Join(parts, "; ")
}

// mailer is the mail service behind the flow's publications: it sends
// (records) every reminder with the idempotency key of the step that sent
// it, except to a mailbox that is always full.
type mailer struct {
	mu   sync.Mutex
	sent []string // idempotency keys
}

// Publish implements runtime.Publisher.
func (m *mailer) Publish(ctx context.Context, topic, event string, payload any) error {
	// The mailbox fills up in the two weeks before the reminder.
	if c, ok := payload.(Contact); ok && topic == "mail" && event == "order.reminder" && c.Email == "full@example.com" {
		return runtime.Permanent(fmt.Errorf("mail: the mailbox of %s is full", c.Email))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, runtime.IdempotencyKey(ctx))
	return nil
}

// reminders counts the reminders that run runID sent.
func (m *mailer) reminders(runID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, k := range m.sent {
		if strings.HasPrefix(k, runID+"/") {
			n++
		}
	}
	return n
}
