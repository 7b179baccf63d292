package main

import (
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/schemas"
)

// In continuous mode, changes made the way an admin makes them reach the topics as upserts
// and tombstones through admin-event hints, long before the next full scan.
func TestContinuousChangesArriveAsUpsertsAndTombstones(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			s := newStack(t, v, spec("acme", 120, 5))
			stop := s.start(s.config()) // full_scan_interval is 1h: only hints can bring changes in
			s.eventually("acme", 30*time.Second)
			tw, r := s.twin, "acme"
			d, _ := tw.DumpRealm(r)
			victim, member := d.Users[3], d.Users[4]
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			// Users: create, update, attributes, required actions, delete.
			nid, err := tw.CreateUser(r, kctwin.UserInput{Username: "new.person", Email: "new@example.com", Enabled: true,
				Attributes: map[string][]string{"dept": {"a", "b"}}})
			must(err)
			must(tw.UpdateUser(r, member.ID, func(u *kctwin.UserInput) { u.FirstName = "Renamed"; u.Email = "" }))
			must(tw.SetUserAttributes(r, member.ID, map[string][]string{"team": {"x"}}))
			must(tw.SetRequiredActions(r, member.ID, []string{"UPDATE_PASSWORD"}))
			must(tw.DeleteUser(r, victim.ID))
			// Groups: create a child, rename a parent (paths of descendants change), join, leave, delete.
			parent := d.Groups[0]
			child, err := tw.CreateGroup(r, parent.ID, "brand-new")
			must(err)
			must(tw.JoinGroup(r, nid, child))
			must(tw.JoinGroup(r, member.ID, child))
			must(tw.RenameGroup(r, parent.ID, parent.Name+"-renamed"))
			if len(member.Groups) > 0 {
				must(tw.LeaveGroup(r, member.ID, member.Groups[0]))
			}
			// Roles: create, grant, rename, composite, revoke, delete.
			must2 := func(_ string, err error) { must(err) }
			must2(tw.CreateRole(r, kctwin.RoleRef{Name: "compliance-reader"}, "reads logs"))
			must(tw.GrantRoles(r, nid, kctwin.RoleRef{Name: "compliance-reader"}))
			must(tw.GrantRoles(r, member.ID, kctwin.RoleRef{Name: "compliance-reader"}))
			must(tw.RenameRole(r, kctwin.RoleRef{Name: "compliance-reader"}, "compliance-auditor"))
			must2(tw.CreateRole(r, kctwin.RoleRef{Name: "compliance-bundle"}, ""))
			must(tw.AddComposites(r, kctwin.RoleRef{Name: "compliance-bundle"}, kctwin.RoleRef{Name: "compliance-auditor"}))
			must(tw.RevokeRoles(r, member.ID, kctwin.RoleRef{Name: "compliance-auditor"}))
			// Clients: create with a role, grant it, delete the client.
			cid, err := tw.CreateClient(r, kctwin.ClientInput{ClientID: "payroll", Enabled: true, Protocol: "openid-connect"})
			must(err)
			must2(tw.CreateRole(r, kctwin.RoleRef{ClientID: "payroll", Name: "approve"}, ""))
			must(tw.GrantRoles(r, nid, kctwin.RoleRef{ClientID: "payroll", Name: "approve"}))
			// User events: a registration and an account deletion through the account console.
			reg, err := tw.SimulateRegistration(r, kctwin.UserInput{Username: "self.signup", Email: "s@example.com", Enabled: true}, "account")
			must(err)
			must(tw.SimulateLogin(r, "self.signup", "account"))
			must(tw.SimulateAccountDeletion(r, d.Users[5].Username))

			final := s.eventually(r, 60*time.Second)
			_ = reg
			must(tw.DeleteClient(r, cid))
			must(tw.DeleteGroup(r, parent.ID))
			final = s.eventually(r, 60*time.Second)
			stop()

			// The deletions travelled as tombstones (not only as absent rows).
			tomb := map[string]int{}
			for _, rec := range final.raw { // the first snapshot wrote no tombstone
				if rec.Value == nil {
					tomb[topicTable(rec.Topic)]++
				}
			}
			for _, tb := range []*schemas.Table{schemas.User, schemas.GroupMember, schemas.Group, schemas.Client, schemas.Role, schemas.UserRealmRole} {
				if tomb[tb.Name()] == 0 {
					t.Errorf("no tombstone in %s (tombstones: %v)", tb.Name(), tomb)
				}
			}
		})
	}
}

func topicTable(topic string) string {
	for i := len(topic) - 1; i >= 0; i-- {
		if topic[i] == '.' {
			return topic[i+1:]
		}
	}
	return topic
}
