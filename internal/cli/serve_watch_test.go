package cli

import (
	"bufio"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/internal/listen"
)

// A GET /watch stream whose client reads nothing while runs with states of
// 256 KiB move falls behind: with -watch-buffer 2, or -watch-bytes 1 MiB,
// it ends with an overflow event before it carries every run's end. The
// runs' events, about 25 MB, stay below the default bounds (256 events,
// 32 MiB) beyond what the sockets hold, so the stream overflows only when
// serve hands the flags' values to the engine.
func TestServeWatchBounds(t *testing.T) {
	const runs = 20
	for name, lim := range map[string]serverLimits{
		"watch-buffer": {watchBuffer: 2},
		"watch-bytes":  {watchBytes: 1 << 20},
	} {
		t.Run(name, func(t *testing.T) {
			url, _, stop := serveWith(t, serveConfig{store: t.TempDir(), net: listen.Config{Addr: "127.0.0.1:0"}, limits: lim})
			defer stop()
			flow := `{"version": 1, "flows": [{"name": "Big", "state": "BigState",
			  "triggers": [{"kind": "rpc", "endpoint": "Big.Start"}],
			  "steps": [{"name": "Announce", "action": {"kind": "publish", "topic": "t", "event": "e"}}]}]}`
			if status, body := call(t, "PUT", url+"/flows", flow); status != 200 {
				t.Fatalf("PUT /flows: %d %v", status, body)
			}
			res, err := http.Get(url + "/watch?flow=Big")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("GET /watch: %d", res.StatusCode)
			}
			state := `{"Blob": "` + strings.Repeat("x", 256<<10) + `"}`
			var wg sync.WaitGroup
			for range runs {
				wg.Go(func() {
					if status, body := call(t, "POST", url+"/flows/Big/runs", state); status != 201 {
						t.Errorf("POST /flows/Big/runs: %d %v", status, body)
					}
				})
			}
			wg.Wait()
			// Read now: the overflow, or every run's end without one.
			sc := bufio.NewScanner(res.Body)
			sc.Buffer(nil, 1<<20)
			done := 0
			for sc.Scan() && done < runs {
				line := sc.Text()
				if line == "event: overflow" {
					return
				}
				if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"to":"done"`) {
					done++
				}
			}
			t.Errorf("the stream carried %d of the %d runs' ends without an overflow (scan error: %v)", done, runs, sc.Err())
		})
	}
}
