//go:build !unix

package observe_test

import "time"

// cpuTime is -1: no getrusage here.
func cpuTime() time.Duration { return -1 }
