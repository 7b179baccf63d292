package poller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/poller/keycloak"
)

// runPoller runs p until the test ends; the channel receives what Run returned.
func runPoller(t *testing.T, p *Poller) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		done <- p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of the stop")
		}
	})
	return done
}

// waitRunning polls cond until it holds, failing if Run returns first or after 30s.
func waitRunning(t *testing.T, done <-chan error, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("waiting for %s: Run returned %v (fenced: %v)", what, err, errors.Is(err, ErrFenced))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A session that fails for another reason than fencing (a Keycloak error, with retries
// off) after it committed is followed by a new session of the same instance, never by
// ErrFenced: brokers raise the producer epoch at every transaction, so the epoch does not
// tell whether another instance came.
func TestFailedSessionIsNotFencing(t *testing.T) {
	h := newHarness(t, time.Now)
	h.useKeycloak(nil, keycloak.Retries(0, 0, 0))
	p := h.poller(Config{PollInterval: 50 * time.Millisecond, FullScanInterval: time.Hour})
	done := runPoller(t, p)
	waitRunning(t, done, "a cycle", func() bool { return !p.Status().LastCycle.IsZero() })
	for i := range 3 {
		if err := h.twin.FailNext(500); err != nil {
			t.Fatal(err)
		}
		waitRunning(t, done, "a failed session", func() bool { return p.Status().FailedSessions == i+1 })
		d, _ := h.twin.DumpRealm(h.realm)
		u := d.Users[3]
		name := fmt.Sprintf("After%d", i)
		if err := h.twin.UpdateUser(h.realm, u.ID, func(in *kctwin.UserInput) { in.FirstName = name }); err != nil {
			t.Fatal(err)
		}
		waitRunning(t, done, "the change after the failure", func() bool { return h.userRows()[u.ID] == name })
	}
}

// A second instance for the realm takes it over: the first, at its next transaction,
// stops with ErrFenced, and the second writes the change.
func TestSecondInstanceTakesOver(t *testing.T) {
	h := newHarness(t, time.Now)
	a := h.poller(Config{PollInterval: 50 * time.Millisecond, FullScanInterval: time.Hour}, Instance("a"))
	doneA := runPoller(t, a)
	waitRunning(t, doneA, "a's first cycle", func() bool { return !a.Status().LastCycle.IsZero() })
	b := h.poller(Config{PollInterval: 50 * time.Millisecond, FullScanInterval: time.Hour}, Instance("b"))
	doneB := runPoller(t, b)
	waitRunning(t, doneB, "b's first cycle", func() bool { return !b.Status().LastCycle.IsZero() })
	d, _ := h.twin.DumpRealm(h.realm)
	u := d.Users[5]
	if err := h.twin.UpdateUser(h.realm, u.ID, func(in *kctwin.UserInput) { in.FirstName = "AfterTakeover" }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-doneA:
		if !errors.Is(err, ErrFenced) {
			t.Fatalf("the first instance ended with %v, want ErrFenced", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first instance kept running after the second took over and the realm changed")
	}
	waitRunning(t, doneB, "the second instance to write the change", func() bool { return h.userRows()[u.ID] == "AfterTakeover" })
	if got := b.Status().FailedSessions; got != 0 {
		t.Errorf("the second instance had %d failed sessions: %s", got, b.Status().LastError)
	}
}
