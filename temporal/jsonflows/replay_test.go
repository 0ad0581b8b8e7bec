package jsonflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/temporal/internal/replay"
	"github.com/flowgen/flowgen/temporal/jsonflows"
)

// Histories recorded on a real server by the serve command of an earlier
// commit (or by a test that runs them as it does) must replay on this code, as a worker of this code replays the
// runs an older one started (a worker that takes a run over, or whose
// cache dropped it): the same commands, or a nondeterminism error. Each
// directory of testdata/histories holds the runs of testdata/shop.json one
// commit recorded (a done run and an aborted one, each with its child run
// of Billing, unless it says otherwise), one file per workflow, named by
// its ID:
//
//   - before-progress: commit 11fb935, before runs recorded their progress
//     in their memo (flowtemporal.MemoProgress), which their replay must
//     not ask for (workflow.GetVersion);
//   - progress: the commit that added it;
//   - before-reclaim: commit 56c8ec0, before a run whose await timed out
//     asked its inbox for an event received in time (flowtemporal
//     Options.Reclaim), which its replay must not ask (workflow.GetVersion):
//     the runs of a flow Wait (an await with a timeout of 3 s that routes
//     timeout to fail), one that timed out and one an event woke, and
//     their inboxes;
//   - reclaim: the commit that added it, the runs of Wait: one that timed
//     out, and one whose event was posted while the workers were down over
//     its deadline, which took it once they were back, and their inboxes;
//   - abort-update: commit e9fe9f0, the first whose runs answer an abort
//     themselves (the Update flowgen.abort, flowtemporal.UpdateAbort),
//     recorded by TestRecordAbortHistories (go test -run
//     TestRecordAbortHistories -record testdata/histories/NAME records
//     them again, on the code of that commit, into a new directory): abort,
//     which took the Update in its wait for its child at Bill (update
//     accepted, the child's cancellation, the memo flowgen.abort-requested,
//     update completed) and ended aborted after rolling back Reserve, and
//     its child abort@Bill, cancelled by it in its await Pay, which ended
//     aborted after rolling back Charge; refused@Bill, which took the
//     Update itself in its await Pay and ended aborted after rolling back
//     Charge, and its parent refused, which failed at Bill then and, in
//     its rollback of Reserve, refused an abort Update: refused by the
//     update's validator, it left nothing in the history, which is that
//     of a run compensated. An Update the handler refused after the
//     validator passed would leave an accepted and a completed event, but
//     only for a run that entered its rollback between the two, within
//     the workflow task that brought the Update: no run here records one.
//
// The replay runs the handler of each Update the history accepted, not its
// validator (the SDK does not run it again): a change of what the handler
// commands, or of their order, fails the replay of abort and refused@Bill
// (moving its UpsertMemo before its checks, leaving it out, not setting
// the handler all do); a change of the validator cannot.
func TestReplayRecordedHistories(t *testing.T) {
	x := jsonflows.New(nil, jsonflows.Options{})
	eng, err := engine.New(engine.Options{Executor: x, Caller: httpcall.New(httpcall.Static{"svc": "http://127.0.0.1:1"})})
	if err != nil {
		t.Fatal(err)
	}
	r := replay.New()
	x.Register(r, eng)
	files, err := filepath.Glob("testdata/histories/*/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no histories: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimPrefix(file, "testdata/histories/"), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Run(strings.TrimSuffix(filepath.Base(file), ".json"), h); err != nil {
				t.Errorf("replaying %s: %v", file, err)
			}
		})
	}
}
