package main

import (
	"flag"
	"testing"

	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/internal/flagdoc"
)

// docs/temporal.md names the argument of a flag of flowgen-temporal serve
// as serve -h does: -h printed "-namespace string" and "-task-queue
// string" where it writes -namespace NS and -task-queue Q (flowgen serve
// -h prints those, TestDocsNameFlagArgumentsAsHelpDoes in internal/cli).
func TestDocsNameFlagArgumentsAsHelpDoes(t *testing.T) {
	fs := flag.NewFlagSet("flowgen-temporal serve", flag.ContinueOnError)
	var cfg config
	var services httpcall.Static
	cfg.flags(fs, &services)
	flagdoc.ArgNames(t, "../../..", []string{"docs/temporal.md"}, fs)
}
