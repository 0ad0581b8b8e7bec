package store

import (
	"fmt"
	"io"
	"os"
)

// envLockChild names the store a child process opens and holds
// (TestOpenHeldByAnotherProcess) until its stdin closes or it is killed.
const envLockChild = "FLOWGEN_LOCK_CHILD"

func lockChild(dir string) int {
	st, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	fmt.Println("open")
	io.Copy(io.Discard, os.Stdin)
	st.Close()
	return 0
}
