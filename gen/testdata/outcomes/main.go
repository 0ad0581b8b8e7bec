// Command outcomes runs the generated Moderation flow: declared outcomes
// with and without transitions, a loop back to an earlier step, and an
// error routed to a step instead of failing the run.
package main

import (
	"context"
	"errors"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

// next pops the next verdict.
func next(s *post) string {
	if len(s.Verdict) == 0 {
		return ""
	}
	v := s.Verdict[0]
	s.Verdict = s.Verdict[1:]
	return v
}

func (handlers) Classify(_ context.Context, s *post) (ModerationClassifyOutcome, error) {
	return ModerationClassifyOutcome(next(s)), nil
}

func (handlers) Review(_ context.Context, s *post) (ModerationReviewOutcome, error) {
	v := next(s)
	if v == "broken" {
		return "", runtime.Permanent(errors.New("review tool down"))
	}
	return ModerationReviewOutcome(v), nil
}

func (handlers) Reject(context.Context, *post) error { return nil }

func main() {
	caller := runtime.NewMemoryCaller()
	caller.Handle("posts", "Post.Publish", runtime.HandleFunc(func(_ context.Context, id string) (string, error) {
		return "https://example.com/" + id, nil
	}))
	sink := runtime.NewMemorySink()
	f, err := NewModerationFlow(handlers{}, ModerationServicesFromCaller(caller), runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewModerationFlow: %v", err)
	}
	ctx := context.Background()
	verdicts := func(v ...string) post {
		return post{ID: "p1", Verdict: v}
	}

	res, _ := f.Execute(ctx, verdicts(string(ModerationClassifyOutcomeNeedsReview), "again", "clean"))
	check.Run("loop", sink, res.RunID, res.Final, runtime.StateDone,
		"pending -> Classify:running",
		"Classify:running -> Review:running [needs_review]",
		"Review:running -> Classify:running [again]",
		"Classify:running -> Publish:running [clean]",
		"Publish:running -> done [ok]")
	check.Equal("loop: url", res.State.URL, "https://example.com/p1")

	res, _ = f.Execute(ctx, verdicts("spam"))
	check.Run("spam", sink, res.RunID, res.Final, runtime.StateFailed,
		"pending -> Classify:running",
		"Classify:running -> Reject:running [spam]",
		"Reject:running -> failing [ok]",
		"failing -> failed")
	check.Equal("spam: routed to fail", errors.Is(res.Err, runtime.ErrRoutedToFail), true)

	res, _ = f.Execute(ctx, verdicts("needs_review", "broken"))
	check.Run("review error", sink, res.RunID, res.Final, runtime.StateFailed,
		"pending -> Classify:running",
		"Classify:running -> Review:running [needs_review]",
		"Review:running -> Reject:running [error]",
		"Reject:running -> failing [ok]",
		"failing -> failed")

	res, _ = f.Execute(ctx, verdicts("needs_review", "approve"))
	check.Run("approve", sink, res.RunID, res.Final, runtime.StateDone,
		"pending -> Classify:running",
		"Classify:running -> Review:running [needs_review]",
		"Review:running -> Publish:running [approve]",
		"Publish:running -> done [ok]")
}
