package main

import (
	"testing"

	"github.com/keycdc/keycdc/kctwin"
)

func spec(name string, users int, seed uint64) kctwin.GenerateSpec {
	return kctwin.GenerateSpec{Name: name, Users: users, Groups: users / 8, Roles: 8, Clients: 4, Events: users * 3,
		AdminEvents: users / 2, Seed: seed}
}

// The first run of keycdc writes every table equal to the realm; a second run on an
// unchanged realm writes no data record.
func TestRunOnceSnapshotEqualsRealm(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			s := newStack(t, v, spec("acme", 150, 11))
			cfg := s.config()
			if logs, err := s.runOnce(cfg); err != nil {
				t.Fatalf("run: %v\n%s", err, logs)
			}
			c := s.read("acme")
			if len(c.tables["user"]) < 150 || len(c.events) < 100 || len(c.adminEvents) < 10 || len(c.tables["group_member"]) == 0 {
				t.Fatalf("too little data: %d users, %d events, %d admin events, %d memberships",
					len(c.tables["user"]), len(c.events), len(c.adminEvents), len(c.tables["group_member"]))
			}
			t.Logf("%d records: %d users, %d events, %d admin events", c.records, len(c.tables["user"]), len(c.events), len(c.adminEvents))
			s.check("acme", c)
			if logs, err := s.runOnce(cfg); err != nil {
				t.Fatalf("second run: %v\n%s", err, logs)
			}
			if again := s.read("acme"); again.records != c.records {
				t.Fatalf("a quiet cycle wrote %d data records", again.records-c.records)
			}
		})
	}
}
