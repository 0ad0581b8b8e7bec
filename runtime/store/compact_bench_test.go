package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkCompact: a store of 50,000 finished 5-step runs older than the
// retention and 1,000 unfinished ones; each iteration opens a copy and
// compacts everything (CompactAll). Reports the store's size before and
// after, the heap the open store holds (its index) before and after, and
// the compaction's time against copying the same files with a sync (read
// everything, write everything once): x-copy. docs/benchmarks.md has the
// figures:
//
//	go test -run '^$' -bench Compact -benchtime 3x ./runtime/store/
func BenchmarkCompact(b *testing.B) {
	const finished, live = 50000, 1000
	src := filepath.Join(b.TempDir(), "store")
	opts := Options{Retain: compactRetain, Now: func() time.Time { return compactNow }, CompactEvery: -1}
	st, err := Open(src, opts)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < finished+live; i += 100 {
				h := fiveStepEvents(fmt.Sprintf("run-%05d", i))
				if i%(finished/live+1) == 0 {
					h = h[:3] // unfinished: kept however old
				}
				for _, e := range h {
					if err := st.Emit(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	st.Close()

	var dCompact, dCopy time.Duration
	var before, after int64
	var heapBefore, heapAfter uint64
	var stats CompactStats
	n := 0
	for b.Loop() {
		b.StopTimer()
		dir := copyStore(b, src)
		t := time.Now()
		copySynced(b, dir, filepath.Join(b.TempDir(), "copy"))
		dCopy += time.Since(t)
		base := heapInUse()
		st, err := Open(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		heapBefore = heapInUse() - base
		before, _ = st.Size()
		b.StartTimer()

		t = time.Now()
		stats, err = st.CompactAll(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		dCompact += time.Since(t)

		b.StopTimer()
		after, _ = st.Size()
		heapAfter = heapInUse() - base
		if stats.RunsKept != live || stats.RunsRemoved != finished {
			b.Fatalf("kept %d runs, removed %d; want %d, %d", stats.RunsKept, stats.RunsRemoved, live, finished)
		}
		runtime.KeepAlive(st)
		st.Close()
		b.StartTimer()
		n++
	}
	b.ReportMetric(float64(before)/1e6, "MB-before")
	b.ReportMetric(float64(after)/1e6, "MB-after")
	b.ReportMetric(float64(heapBefore)/1e6, "heap-MB-before")
	b.ReportMetric(float64(heapAfter)/1e6, "heap-MB-after")
	b.ReportMetric(dCompact.Seconds()/float64(n), "s/compact")
	b.ReportMetric(float64(before)/1e6/(dCompact.Seconds()/float64(n)), "MB/s")
	b.ReportMetric(float64(stats.RecordsKept+stats.RecordsRemoved)/(dCompact.Seconds()/float64(n)), "records/s")
	b.ReportMetric(float64(dCompact)/float64(dCopy), "x-copy")
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// copySynced copies the segment files of src into dst and syncs them: the
// floor of rewriting a store.
func copySynced(b *testing.B, src, dst string) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".seg" {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		if err := out.Sync(); err != nil {
			b.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}
