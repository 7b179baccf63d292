package main

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/keycdc/keycdc/kctwin"
)

// Keycloak answering 429/5xx, hanging, expiring and revoking tokens, and Kafka failing
// produce and commit requests: keycdc still converges to the realm, with every event once.
func TestFaultsStillConverge(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			s := newStack(t, v, spec("acme", 200, 31))
			s.syncExtra = "  full_scan_interval: 1s\n"
			cfg := s.configWith(nil, "page_size: 13", "page_size: 13\n  request_timeout: 1s")
			tw := s.twin
			if err := tw.SetFaults(kctwin.Faults{Rate: 0.03, RetryAfter: 1, HangRate: 0.01, HangFor: 3 * time.Second, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			tw.SetTokenLifespan(2 * time.Second)
			retriable := s.kafka.Fault(
				kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotLeaderForPartition, Count: 1},
				kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.CoordinatorLoadInProgress, Count: 2, TopLevel: true},
			)
			// A produce error that fails the transaction, and a commit refused in a way that
			// leaves the producer id unusable: each session restarts from Kafka with a new
			// producer.
			fatal := s.kafka.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.MessageTooLarge, Count: 1},
				kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.InvalidTxnState, Count: 1, TopLevel: true})

			stop := s.start(cfg)
			time.Sleep(300 * time.Millisecond)
			tw.RevokeTokens()
			d, _ := tw.DumpRealm("acme")
			if err := tw.DeleteUser("acme", d.Users[7].ID); err != nil {
				t.Fatal(err)
			}
			if err := tw.SimulateLoginError("acme", d.Users[8].Username, "account"); err != nil {
				t.Fatal(err)
			}
			s.eventually("acme", 90*time.Second)
			logs := stop()
			st := tw.Stats()
			var faulted int64
			for _, r := range st.Routes {
				for code, n := range r.Statuses {
					if code >= "429" {
						faulted += n
					}
				}
			}
			if faulted == 0 || retriable.Hits() == 0 || fatal.Hits() < 2 {
				t.Fatalf("faults did not happen: keycloak %d, kafka retriable %d, kafka fatal %d", faulted, retriable.Hits(), fatal.Hits())
			}
			if !strings.Contains(logs, "restarting from the last checkpoint") {
				t.Errorf("no session restart logged after a failed transaction:\n%s", logs)
			}
			t.Logf("converged through %d Keycloak faults and %d+%d Kafka faults", faulted, retriable.Hits(), fatal.Hits())
		})
	}
}
