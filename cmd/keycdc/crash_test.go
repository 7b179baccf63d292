package main

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/keycdc/keycdc/kctwin"
)

// child runs keycdc as a separate process (this test binary, see TestMain).
type child struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{logs: &syncBuffer{}}
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(os.Environ(), "KEYCDC_TEST_MAIN=1")
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// terminate sends SIGTERM once the child has logged started (so that it handles signals:
// a SIGTERM before that kills it) and waits for it to exit.
func (c *child) terminate(t *testing.T, started string) error {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(c.logs.String(), started); {
		if time.Now().After(deadline) {
			t.Fatalf("the child did not log %q within 60s:\n%s", started, c.logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for a condition, with the deadline above
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	return c.cmd.Wait()
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// A keycdc process killed with SIGKILL at random moments — in the middle of scans, event
// backfills and transactions — and restarted many times, with the realm changing all the
// while, still ends with topics equal to the realm and every event exactly once. The broker
// lives in this process and is never killed.
func TestCrashLoopConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop: skipped with -short")
	}
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			s := newStack(t, v, spec("acme", 400, 21))
			s.syncExtra = "  full_scan_interval: 2s\n"
			// Small transactions, so that kills land between and inside many of them.
			cfg := s.configWith(nil, "max_transaction_records: 200", "max_transaction_records: 37")
			if err := s.twin.StartActivity(kctwin.Activity{Realm: "acme", EventsPerSecond: 200, ChangesPerSecond: 20, Seed: 5}); err != nil {
				t.Fatal(err)
			}
			// Hold every produce for a moment, so that kills land inside open transactions (a
			// kill during EndTxn would not: the broker finishes a commit it has received).
			s.kafka.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
				s.kafka.KeepControl()
				s.kafka.SleepControl(func() { time.Sleep(25 * time.Millisecond) })
				return nil, nil, false
			})
			rng := rand.New(rand.NewPCG(7, 9))
			kills := 0
			for i := 0; i < 15; i++ {
				c := startChild(t, "run", "--config", cfg)
				time.Sleep(time.Duration(50+rng.IntN(700)) * time.Millisecond)
				c.kill()
				kills++
			}
			s.twin.StopActivity()
			c := startChild(t, "run", "--config", cfg)
			final := s.eventually("acme", 90*time.Second)
			if err := c.terminate(t, "keycdc running"); err != nil {
				t.Errorf("graceful stop: %v\n%s", err, c.logs.String())
			}
			if strings.Contains(c.logs.String(), "s3cret") {
				t.Error("the client secret appears in keycdc's logs")
			}
			// Evidence that kills interrupted transactions: records of aborted transactions
			// exist, and read_committed readers never saw them.
			all := s.uncommittedRecords("acme")
			if all <= final.records {
				t.Errorf("read_uncommitted sees %d records, read_committed %d: no kill hit an open transaction", all, final.records)
			}
			t.Logf("%d kills, then converged; %d committed records, %d more in aborted transactions", kills, final.records, all-final.records)
		})
	}
}
