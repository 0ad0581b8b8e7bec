package observe_test

import (
	"math"
	"testing"
	"time"

	"github.com/flowgen/flowgen/observe"
)

// TestCommitRecordsBucketsDouble: flowgen_store_commit_records's buckets
// are the powers of two from 1 to the store's default MaxBatch (4096), as
// docs/observability.md says, so that a percentile of the group commits'
// sizes is read within a factor of two at every size. Before, 2048 was
// missing: a batch of 1,100 records and one of 4,000 fell in one bucket.
func TestCommitRecordsBucketsDouble(t *testing.T) {
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tel.StoreCommitted(1, time.Millisecond)
	var bounds []float64
	for _, m := range telMetrics(t, tel)["flowgen_store_commit_records"].GetMetric() {
		for _, b := range m.GetHistogram().GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) { // the parser's own last bucket
				bounds = append(bounds, b.GetUpperBound())
			}
		}
	}
	want := 1.0
	for _, b := range bounds {
		if b != want {
			t.Fatalf("bucket bounds %v: want the powers of two from 1 to 4096 (%v missing)", bounds, want)
		}
		want *= 2
	}
	if want != 8192 {
		t.Fatalf("bucket bounds %v: want the powers of two from 1 to 4096", bounds)
	}
}
