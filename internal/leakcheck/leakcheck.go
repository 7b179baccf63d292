// Package leakcheck fails a package's tests when goroutines of keycdc or franz-go (clients,
// kfake, srfake) outlive them, the way net/http's tests check for leaked connections. Every
// goroutine must have an owner that waits for it; this is how the tests hold the code to it.
//
// Use it from a test file:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests and, if they pass, waits up to five seconds for goroutines started
// from keycdc or franz-go code to end; if any remain, it prints their stacks and exits 1.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := wait(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func wait(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		leaks := leaked()
		if len(leaks) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leakcheck: %d goroutines outlived the tests:\n\n%s", len(leaks), strings.Join(leaks, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond) // polling for a condition, with the deadline above
	}
}

// leaked returns the stacks of goroutines running keycdc or franz-go code, except the
// one calling it.
func leaked() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaks []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		ours := strings.Contains(g, "github.com/twmb/franz-go") || strings.Contains(g, "github.com/keycdc/keycdc/")
		if ours && !strings.Contains(g, "keycdc/internal/leakcheck.leaked") {
			leaks = append(leaks, g)
		}
	}
	return leaks
}
