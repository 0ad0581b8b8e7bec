package cli

import (
	"bufio"
	"github.com/flowgen/flowgen/internal/listen"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serve's web view: the page is served at /ui, and a GET /watch stream
// outlives the server's -write-timeout (each write has its own deadline)
// and does not hold the server's shutdown.
func TestServeWebViewAndWatch(t *testing.T) {
	dir := t.TempDir()
	cfg := serveConfig{store: filepath.Join(dir, "store"), flows: filepath.Join(dir, "flows"), net: listen.Config{Addr: "127.0.0.1:0"}}
	// Short, for the stream to outlive it, but not so short that the
	// other requests (PUT /flows syncs the store) miss it on a loaded
	// machine: at 300ms a PUT did, and got an EOF.
	cfg.net.Limits.WriteTimeout = time.Second
	url, logs, stop := serveWith(t, cfg)
	if !strings.Contains(logs.String(), "ui=http://127.0.0.1:") {
		t.Errorf("the start line does not say where the web view is:\n%s", logs.String())
	}
	c := http.DefaultClient
	if status, h, body := request(t, c, "GET", url+"/ui", "", "", ""); status != 200 || !strings.Contains(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "app.js") {
		t.Fatalf("GET /ui: %d %s", status, h.Get("Content-Type"))
	}
	if status, _, body := request(t, c, "PUT", url+"/flows", "", "application/json", serveFlow); status != 200 {
		t.Fatalf("PUT /flows: %d %s", status, body)
	}
	res, err := c.Get(url + "/watch?flow=Greet")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	time.Sleep(cfg.net.Limits.WriteTimeout * 3 / 2) // past the server's write timeout
	if status, _, body := request(t, c, "POST", url+"/rpc/Greet.Start", "", "application/json", `{"Name": "ada"}`); status != 201 {
		t.Fatalf("start: %d %s", status, body)
	}
	for line := range lines {
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"flow":"Greet"`) {
			stop() // returns once the stream is ended for the shutdown
			for range lines {
			}
			return
		}
	}
	t.Fatal("the stream ended before the run's first event")
}
