package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// A start that fails once its engine has begun to start (one flow's
// consumers made, the next one's refused) may have recorded what its
// consumers took and acknowledged meanwhile: on NATS, a trigger's event
// or an awaited one, gone from the stream once the store holds it. The
// store it made for the start then holds that, and stays; one that holds
// nothing but its empty first segment goes, as before.
func TestNewStoreDirKeepsAStoreThatRecordedSomething(t *testing.T) {
	for _, recorded := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "store")
		made := newStoreDir(dir)
		if made == nil {
			t.Fatal("newStoreDir of a missing directory: nil")
		}
		st, err := store.Open(dir, store.Options{CompactEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		if recorded {
			m := store.Message{Topic: "people", Event: "arrived", ID: "1", Payload: []byte(`{}`), Received: time.Now()}
			if _, _, err := st.PutMessage(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		made()
		_, err = os.Stat(dir)
		if kept := err == nil; kept != recorded {
			t.Errorf("a store made for a failed start, recorded %v: kept %v (%v)", recorded, kept, err)
		}
	}
}
