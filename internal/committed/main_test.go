package committed

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package's tests if goroutines of keycdc or franz-go (clients, kfake,
// srfake) are still running once every test has cleaned up, as net/http's tests do.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := leakedGoroutines(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to five seconds for such goroutines to end, then lists them.
func leakedGoroutines() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaks []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			ours := strings.Contains(g, "franz-go") || strings.Contains(g, "keycdc/")
			if ours && !strings.Contains(g, "leakedGoroutines") {
				leaks = append(leaks, g)
			}
		}
		if len(leaks) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leaked goroutines:\n%s", strings.Join(leaks, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
