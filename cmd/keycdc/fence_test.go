package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
)

// A second keycdc for the same realm fences the first: the first stops with a clear error
// at its next commit, and the two never both write.
func TestSecondInstanceFencesTheFirst(t *testing.T) {
	// The race between the two is timing-dependent; a few rounds make its outcomes likely.
	for round := 0; round < 3; round++ {
		t.Run(fmt.Sprint(round), testFencing)
	}
}

func testFencing(t *testing.T) {
	s := newStack(t, "26.2", spec("acme", 100, 41))
	cfg := s.config()
	if err := s.twin.StartActivity(kctwin.Activity{Realm: "acme", EventsPerSecond: 50, ChangesPerSecond: 5, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	a := startChild(t, "run", "--config", cfg)
	defer a.kill()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(a.logs.String(), "full scan done") {
		if time.Now().After(deadline) {
			t.Fatalf("first instance did not finish its scan:\n%s", a.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := startChild(t, "run", "--config", cfg)
	defer b.kill()
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("fenced instance: %v: %s", err, lastLine(a.logs.String()))
		if err == nil || !strings.Contains(a.logs.String(), "took over") {
			t.Fatalf("first instance: exit %v, logs:\n%s", err, a.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the fenced instance kept running:\n%s", a.logs.String())
	}
	s.twin.StopActivity()
	s.eventually("acme", 60*time.Second)
	b.cmd.Process.Signal(syscall.SIGTERM)
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("second instance: %v\n%s", err, b.logs.String())
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
