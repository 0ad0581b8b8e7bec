package main

import (
	"os"
	// The IANA zone database, for schedules that name a zone
	// ("CRON_TZ=Europe/Paris 0 3 * * *"): check and serve must accept the
	// same zones on every machine, one with no zone files (a scratch or
	// distroless image) too.
	_ "time/tzdata"

	"github.com/flowgen/flowgen/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
