//go:build !unix

package gen_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
