package twoforms

import (
	"context"
	"slices"
	"sync"

	"github.com/flowgen/flowgen/runtime"
)

// Journal is what a case's services and handlers did, in order, from any
// goroutine, each line with the idempotency key of the action that did it:
// what Observe compares between the two forms.
type Journal struct {
	mu    sync.Mutex
	lines []string
}

// Add journals what, with the idempotency key of ctx.
func (j *Journal) Add(ctx context.Context, what string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, what+" "+runtime.IdempotencyKey(ctx))
}

// Lines is the journal so far.
func (j *Journal) Lines() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}
