// Command provider serves the Go steps of examples/provider/billing.json
// for a `flowgen serve`: it registers them as a remote provider, serves
// them over HTTP on loopback, and keeps its lease alive until Ctrl-C.
//
//	go run ./examples/provider -engine http://127.0.0.1:8080 -token "$PROVIDER"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowgen/flowgen/engine/provider"
)

func main() {
	// Ctrl-C or a kill (SIGTERM) ends the lease before exiting, so that
	// runs wait for another provider instead of calling this one.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run is the program: it serves until ctx ends or the engine refuses the
// registration, and returns the exit status (2 for a usage error).
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("provider", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engineURL := fs.String("engine", "http://127.0.0.1:8080", "the flow service's URL")
	token := fs.String("token", "", "a bearer token of the provider role (none without -tokens)")
	name := fs.String("name", "billing", "this provider's name (its lease)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log.SetOutput(stderr)
	// The provider's Logger says when it is registered, why it is not yet
	// (an engine it cannot reach, a 429) and why a renewal failed, as it
	// retries: without one it would wait in silence on a mistyped -engine.
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	p := provider.New(provider.Options{Name: *name, Engine: *engineURL, Token: *token, Logger: logger})
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
	fmt.Fprintf(stderr, "serving Billing.Reconcile and Billing.Unreconcile, registering with %s; Ctrl-C to stop\n", *engineURL)
	if err := p.ListenAndServe(ctx, "127.0.0.1:0", ""); err != nil {
		log.Print(err)
		return 1
	}
	return 0
}
