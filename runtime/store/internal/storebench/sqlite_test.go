package storebench

// The measurement behind the choice of the store's engine (docs/store.md):
// the same durable event appends and the same reopen, on flowgen's
// append-only log (runtime/store/internal/wal) and on SQLite
// (modernc.org/sqlite, no cgo) with the schema a SQLite store would use.

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store/internal/wal"
	_ "modernc.org/sqlite"
)

// event is a stand-in of one transition record: about the size of a real
// encoded runtime.Event with a small state snapshot.
func event(run, seq int) (runID string, payload []byte) {
	runID = fmt.Sprintf("run-%08d", run)
	payload = fmt.Appendf(nil, `{"run":%q,"seq":%d,"flow":"Signup","step":"CreateCustomer","from":"running","to":"succeeded","attempt":1,"state":{"CustomerID":"c-%d","Plan":"pro"}}`, runID, seq, run)
	return runID, payload
}

type sqliteStore struct {
	db *sql.DB
}

func openSQLite(b *testing.B, path string) *sqliteStore {
	// WAL journal with synchronous=FULL syncs the WAL on every commit: the
	// same guarantee as the log (durable before the append returns).
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1) // SQLite has one writer; more connections only add SQLITE_BUSY
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, flow TEXT NOT NULL, status TEXT NOT NULL, last_seq INTEGER NOT NULL) WITHOUT ROWID`,
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	return &sqliteStore{db: db}
}

type row struct {
	run     string
	seq     int
	payload []byte
	status  string
}

func (s *sqliteStore) insert(rows ...row) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := tx.Exec(`INSERT INTO events (run_id, seq, data) VALUES (?, ?, ?)`, r.run, r.seq, r.payload); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tx.Exec(`INSERT INTO runs (run_id, flow, status, last_seq) VALUES (?, 'Signup', ?, ?)
			ON CONFLICT(run_id) DO UPDATE SET status = excluded.status, last_seq = excluded.last_seq`, r.run, r.status, r.seq); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// groupCommitter batches concurrent SQLite inserts into one transaction,
// the way the log batches records into one sync: whoever finds no commit in
// flight commits everything pending.
type groupCommitter struct {
	s       *sqliteStore
	mu      sync.Mutex
	pending []row
	waiters []chan error
	busy    bool
}

func (g *groupCommitter) insert(r row) error {
	ch := make(chan error, 1)
	g.mu.Lock()
	g.pending = append(g.pending, r)
	g.waiters = append(g.waiters, ch)
	if g.busy {
		g.mu.Unlock()
		return <-ch
	}
	g.busy = true
	for len(g.pending) > 0 {
		rows, ws := g.pending, g.waiters
		g.pending, g.waiters = nil, nil
		g.mu.Unlock()
		err := g.s.insert(rows...)
		for _, w := range ws {
			w <- err
		}
		g.mu.Lock()
	}
	g.busy = false
	g.mu.Unlock()
	return <-ch
}

func openLog(b *testing.B, dir string) *wal.Log {
	l, err := wal.Open(dir, wal.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkSerialAppend: one goroutine, every event its own durable commit.
func BenchmarkSerialAppend(b *testing.B) {
	b.Run("log", func(b *testing.B) {
		l := openLog(b, b.TempDir())
		defer l.Close()
		for i := 0; b.Loop(); i++ {
			_, p := event(i/5, i%5)
			if _, err := l.Append(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sqlite", func(b *testing.B) {
		s := openSQLite(b, filepath.Join(b.TempDir(), "events.db"))
		defer s.db.Close()
		for i := 0; b.Loop(); i++ {
			run, p := event(i/5, i%5)
			if err := s.insert(row{run, i % 5, p, "running"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConcurrentAppend: 100 goroutines (100 runs in flight) append
// durably; reported as events per second.
func BenchmarkConcurrentAppend(b *testing.B) {
	const writers = 100
	run := func(b *testing.B, appendOne func(w, i int) error) {
		var wg sync.WaitGroup
		start := time.Now()
		per := b.N/writers + 1
		b.ResetTimer()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					if err := appendOne(w, i); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(per*writers)/time.Since(start).Seconds(), "events/s")
	}
	b.Run("log", func(b *testing.B) {
		l := openLog(b, b.TempDir())
		defer l.Close()
		run(b, func(w, i int) error {
			_, p := event(w, i)
			_, err := l.Append(p)
			return err
		})
	})
	b.Run("sqlite-tx-per-event", func(b *testing.B) {
		s := openSQLite(b, filepath.Join(b.TempDir(), "events.db"))
		defer s.db.Close()
		run(b, func(w, i int) error {
			r, p := event(w, i)
			return s.insert(row{r, i, p, "running"})
		})
	})
	b.Run("sqlite-group-commit", func(b *testing.B) {
		s := openSQLite(b, filepath.Join(b.TempDir(), "events.db"))
		defer s.db.Close()
		g := &groupCommitter{s: s}
		run(b, func(w, i int) error {
			r, p := event(w, i)
			return g.insert(row{r, i, p, "running"})
		})
	})
}

// BenchmarkReopen10kRuns: open a store holding 10,000 runs of 5 events and
// find the runs that are not terminal (what a restart does before resuming).
func BenchmarkReopen10kRuns(b *testing.B) {
	const runs, perRun = 10000, 5
	b.Run("log", func(b *testing.B) {
		dir := b.TempDir()
		l := openLog(b, dir)
		var wg sync.WaitGroup
		for w := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := w; r < runs; r += 100 {
					for s := range perRun {
						_, p := event(r, s)
						if _, err := l.Append(p); err != nil {
							b.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		l.Close()
		for b.Loop() {
			// The store's index: run -> positions and last status.
			type info struct {
				pos  []wal.Pos
				last []byte
			}
			idx := map[string]*info{}
			l, err := wal.Open(dir, wal.Options{}, func(pos wal.Pos, p []byte) error {
				run := string(p[8:20]) // the run ID sits at a fixed place in these payloads
				in := idx[run]
				if in == nil {
					in = &info{}
					idx[run] = in
				}
				in.pos = append(in.pos, pos)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if len(idx) != runs {
				b.Fatalf("%d runs", len(idx))
			}
			l.Close()
		}
	})
	b.Run("sqlite", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "events.db")
		s := openSQLite(b, path)
		var rows []row
		for r := range runs {
			for seq := range perRun {
				id, p := event(r, seq)
				rows = append(rows, row{id, seq, p, "running"})
			}
		}
		if err := s.insert(rows...); err != nil {
			b.Fatal(err)
		}
		s.db.Close()
		for b.Loop() {
			s := openSQLite(b, path)
			rs, err := s.db.Query(`SELECT run_id, flow, status FROM runs WHERE status NOT IN ('done','compensated','failed','aborted','compensation_failed')`)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rs.Next() {
				var id, flow, st string
				rs.Scan(&id, &flow, &st)
				n++
			}
			rs.Close()
			if n != runs {
				b.Fatalf("%d runs", n)
			}
			s.db.Close()
		}
	})
}
