// Command provider serves the Go steps of examples/provider/billing.json
// for a `flowgen serve`: it registers them as a remote provider, serves
// them over HTTP on loopback, and keeps its lease alive until Ctrl-C.
//
//	go run ./examples/provider -engine http://127.0.0.1:8080 -token "$PROVIDER"
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowgen/flowgen/engine/provider"
)

func main() {
	engineURL := flag.String("engine", "http://127.0.0.1:8080", "the flow service's URL")
	token := flag.String("token", "", "a bearer token of the provider role (none without -tokens)")
	name := flag.String("name", "billing", "this provider's name (its lease)")
	flag.Parse()
	// Ctrl-C or a kill (SIGTERM) ends the lease before exiting, so that
	// runs wait for another provider instead of calling this one.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	p := provider.New(provider.Options{Name: *name, Engine: *engineURL, Token: *token})
	// The Go step Reconcile of flow Billing: it returns "ok" or "disputed".
	p.Step("Billing.Reconcile", func(ctx context.Context, c *provider.Call) (string, error) {
		var amount float64
		if err := c.Get("Amount", &amount); err != nil {
			return "", provider.Permanent(err) // a bad state: no retry can fix it
		}
		log.Printf("reconcile %v (key %s, attempt %d)", amount, c.IdempotencyKey, c.Attempt)
		if amount > 1000 {
			return "disputed", nil
		}
		return "", c.Set("Reconciled", true)
	}, "disputed")
	// Its Go rollback: undo the reconciliation.
	p.Rollback("Billing.Unreconcile", func(ctx context.Context, c *provider.Call) error {
		log.Printf("unreconcile (key %s)", c.IdempotencyKey)
		c.Delete("Reconciled")
		return nil
	})
	fmt.Fprintln(os.Stderr, "serving Billing.Reconcile and Billing.Unreconcile; Ctrl-C to stop")
	if err := p.ListenAndServe(ctx, "127.0.0.1:0", ""); err != nil {
		log.Fatal(err)
	}
}
