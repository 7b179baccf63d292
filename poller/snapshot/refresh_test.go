package snapshot

import (
	"context"
	"testing"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

// One batch of admin events says: group C moved out of P, then P was deleted (with its
// remaining child D). The refresh must keep C and its membership — the image still has C
// under P when P's deletion is handled, whichever refresh the workers finish first — and
// tombstone D and D's membership, which went with P.
func TestMovedChildSurvivesParentDeleteInOneBatch(t *testing.T) {
	for i := range 8 {
		f := newFixture(t, "26.2", "name=acme,users=5,groups=0,roles=1,clients=1,events=0,admin-events=0,seed=3")
		p, err := f.twin.CreateGroup(f.realm, "", "P")
		if err != nil {
			t.Fatal(err)
		}
		dg, err := f.twin.CreateGroup(f.realm, p, "D")
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.twin.CreateGroup(f.realm, "", "C") // already moved to the top level
		if err != nil {
			t.Fatal(err)
		}
		d, _ := f.twin.DumpRealm(f.realm)
		u := d.Users[0].ID
		for _, g := range []string{c, dg} {
			if err := f.twin.JoinGroup(f.realm, u, g); err != nil {
				t.Fatal(err)
			}
		}
		m := newMemTopics(t)
		s := f.scanner(t, Concurrency(1+i%3))
		if _, err := s.Scan(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		// The image as it was before the move: C under P.
		pp := p
		ch, err := groupChange(keycloak.Group{ID: c, Name: "C", Path: "/P/C"}, &pp)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Restore(schemas.Group, ch.Key, ch.Value); err != nil {
			t.Fatal(err)
		}
		if err := f.twin.DeleteGroup(f.realm, p); err != nil {
			t.Fatal(err)
		}
		var h Hints
		h.AdminEvent("UPDATE", "GROUP", "groups/"+c) // the move to the top level
		h.AdminEvent("DELETE", "GROUP", "groups/"+p)
		if _, err := s.Refresh(context.Background(), &h, m); err != nil {
			t.Fatal(err)
		}
		members := m.tables[schemas.GroupMember.Name()]
		groups := m.tables[schemas.Group.Name()]
		if _, ok := members[c+"\x1f"+u]; !ok {
			t.Fatalf("run %d: the membership of %s in moved group C was tombstoned", i, u)
		}
		if _, ok := members[dg+"\x1f"+u]; ok {
			t.Fatalf("run %d: the membership in D, deleted with P, is still there", i)
		}
		if _, ok := groups[c]; !ok {
			t.Fatalf("run %d: moved group C was tombstoned", i)
		}
		for _, gone := range []string{p, dg} {
			if _, ok := groups[gone]; ok {
				t.Fatalf("run %d: deleted group %s is still there", i, gone)
			}
		}
		f.checkEqual(t, m.tables)
	}
}

// Moves arrive as admin events that do not name the moved group when it goes to the top
// level (UPDATE GROUP "groups"), and name the new parent's children when it goes under a
// group; either way the moved group and its subtree get their new parent and paths, and
// keep their members.
func TestGroupMovesFollowTheirAdminEvents(t *testing.T) {
	f := newFixture(t, "26.2", "name=acme,users=8,groups=0,roles=1,clients=1,events=0,admin-events=0,seed=4")
	a, _ := f.twin.CreateGroup(f.realm, "", "A")
	b, _ := f.twin.CreateGroup(f.realm, a, "B")
	c, _ := f.twin.CreateGroup(f.realm, b, "C")
	other, _ := f.twin.CreateGroup(f.realm, "", "Other")
	d, _ := f.twin.DumpRealm(f.realm)
	for _, g := range []string{b, c} {
		if err := f.twin.JoinGroup(f.realm, d.Users[1].ID, g); err != nil {
			t.Fatal(err)
		}
	}
	m := newMemTopics(t)
	s := f.scanner(t)
	if _, err := s.Scan(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for _, mv := range []struct{ parent, path string }{{"", "groups"}, {other, "groups/" + other + "/children"}, {"", "groups"}} {
		if err := f.twin.MoveGroup(f.realm, b, mv.parent); err != nil {
			t.Fatal(err)
		}
		var h Hints
		h.AdminEvent("UPDATE", "GROUP", mv.path)
		if h.Empty() {
			t.Fatalf("admin event UPDATE GROUP %s gave no hint", mv.path)
		}
		if _, err := s.Refresh(context.Background(), &h, m); err != nil {
			t.Fatal(err)
		}
		f.checkEqual(t, m.tables)
		if t.Failed() {
			t.Fatalf("after the move to %q", mv.path)
		}
	}
}
