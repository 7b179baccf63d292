package snapshot

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/keycdc/keycdc/schemas"
)

// keyOf builds keys without the Avro library; it must agree with the schemas' encoding
// for every entity table (all their key columns are strings).
func TestKeyOfMatchesSchemaEncoding(t *testing.T) {
	cases := []struct {
		table *schemas.Table
		key   any
		cols  []string
	}{
		{schemas.User, schemas.UserKey{ID: "u-1"}, []string{"u-1"}},
		{schemas.UserAttribute, schemas.UserAttributeRow{UserID: "u", AttributeKey: "k", AttributeValue: "välue"}, []string{"u", "k", "välue"}},
		{schemas.UserRealmRole, schemas.UserRealmRoleKey{UserID: "u", RoleName: "admin"}, []string{"u", "admin"}},
		{schemas.UserClientRole, schemas.UserClientRoleKey{UserID: "u", ClientID: "app", RoleName: "r"}, []string{"u", "app", "r"}},
		{schemas.UserRequiredAction, schemas.UserRequiredActionRow{UserID: "u", RequiredAction: "VERIFY_EMAIL"}, []string{"u", "VERIFY_EMAIL"}},
		{schemas.Group, schemas.GroupKey{ID: "g"}, []string{"g"}},
		{schemas.GroupMember, schemas.GroupMemberRow{GroupID: "g", UserID: "u"}, []string{"g", "u"}},
		{schemas.Role, schemas.RoleKey{ID: "r"}, []string{"r"}},
		{schemas.RoleComposite, schemas.RoleCompositeRow{RoleID: "a", CompositeRoleID: "b"}, []string{"a", "b"}},
		{schemas.Client, schemas.ClientKey{ID: ""}, []string{""}},
	}
	for _, c := range cases {
		ch, err := c.table.Delete(c.key)
		if err != nil {
			t.Fatal(err)
		}
		if got := keyOf(c.cols...); !bytes.Equal(got, ch.Key) {
			t.Errorf("%s: keyOf = %x, schema encodes %x", c.table.Name(), got, ch.Key)
		}
		s := &Scanner{}
		cols, err := s.keyColumns(ch.Key)
		if err != nil || len(cols) != len(c.cols) {
			t.Fatalf("%s: keyColumns = %v, %v", c.table.Name(), cols, err)
		}
		for i := range cols {
			if cols[i] != c.cols[i] {
				t.Errorf("%s: column %d = %q, want %q", c.table.Name(), i, cols[i], c.cols[i])
			}
		}
	}
}

func TestImagePutDelAndOwners(t *testing.T) {
	im := newImage()
	im.gen = 1
	k := func(cols ...string) []byte { return keyOf(cols...) }
	if out, _ := im.put("t", k("u1", "a"), []byte("v1")); out != inserted {
		t.Fatal("first put not an insert")
	}
	if out, _ := im.put("t", k("u1", "a"), []byte("v1")); out != unchanged {
		t.Fatal("same value not unchanged")
	}
	if out, _ := im.put("t", k("u1", "a"), []byte("v2")); out != updated {
		t.Fatal("new value not an update")
	}
	// An owner with many rows gets an index; removal keeps it consistent.
	for i := 0; i < 40; i++ {
		im.put("t", k("big", string(rune('A'+i))), []byte("x"))
	}
	for i := 0; i < 40; i += 2 {
		if held, _ := im.del("t", k("big", string(rune('A'+i)))); !held {
			t.Fatalf("del %d not held", i)
		}
	}
	for i := 0; i < 40; i++ {
		if got, want := im.has("t", k("big", string(rune('A'+i)))), i%2 == 1; got != want {
			t.Fatalf("row %d: has = %v, want %v", i, got, want)
		}
	}
	if n := len(im.keysOf("t", "big")); n != 20 || im.rows("t") != 21 {
		t.Fatalf("keysOf = %d rows = %d", n, im.rows("t"))
	}
	// Unseen: rows of an older generation.
	im.gen = 2
	im.put("t", k("u1", "a"), []byte("v2"))
	var unseen int
	im.unseen("t", func(owner string, key []byte) { unseen++ })
	if unseen != 20 {
		t.Fatalf("unseen = %d, want the 20 rows of 'big'", unseen)
	}
	if held, _ := im.del("t", k("nobody", "x")); held {
		t.Fatal("deleting a missing row reported held")
	}
	if _, err := im.put("t", []byte{0x7f}, nil); err == nil {
		t.Fatal("malformed key accepted")
	}
	im.compact()
	if n := im.ownerCount(); n != 2 {
		t.Fatalf("image holds %d owners, want 2", n)
	}
}

func TestHintsFromAdminEvents(t *testing.T) {
	var h Hints
	h.AdminEvent("CREATE", "USER", "users/u1")
	h.AdminEvent("UPDATE", "USER", "users/u2")
	h.AdminEvent("ACTION", "USER", "users/u3/reset-password")
	h.AdminEvent("CREATE", "GROUP_MEMBERSHIP", "users/u4/groups/g1")
	h.AdminEvent("DELETE", "REALM_ROLE_MAPPING", "users/u5/role-mappings/realm")
	h.AdminEvent("CREATE", "CLIENT_ROLE_MAPPING", "groups/g9/role-mappings/clients/c1")
	h.AdminEvent("CREATE", "GROUP", "groups/g2/children")
	h.AdminEvent("UPDATE", "GROUP", "groups/g3")
	h.AdminEvent("UPDATE", "AUTH_FLOW", "authentication/flows/x")
	if h.definitions {
		t.Fatal("no role or client event, yet definitions requested")
	}
	h.AdminEvent("DELETE", "CLIENT_ROLE", "clients/c1/roles/r")
	want := map[string]userHint{"u1": hintCore | hintRoles | hintGroups, "u2": hintCore, "u3": hintCore, "u5": hintRoles}
	if len(h.users) != len(want) {
		t.Fatalf("users = %v", h.users)
	}
	for id, w := range want {
		if h.users[id] != w {
			t.Errorf("user %s hint %b, want %b", id, h.users[id], w)
		}
	}
	if !h.memberships[[2]string{"u4", "g1"}] || !h.children["g2"] || !h.groups["g3"] || len(h.groups) != 1 || !h.definitions {
		t.Fatalf("hints = %+v", h)
	}
	var u Hints
	u.UserEvent("LOGIN", "u1")
	u.UserEvent("UPDATE_PROFILE_ERROR", "u1")
	if !u.Empty() {
		t.Fatal("logins and failed updates hinted a refresh")
	}
	u.UserEvent("DELETE_ACCOUNT", "u7")
	if u.users["u7"] != hintCore {
		t.Fatal("DELETE_ACCOUNT did not hint its user")
	}
}

// The image agrees with a plain map under a long random sequence of puts, deletes, seen
// marks, generations and compactions, over few owners and keys so that rows come and go
// many times (chains, hash-table removals and reused numbers all get exercised).
func TestImageMatchesMapModel(t *testing.T) {
	type row struct {
		hash uint64
		gen  uint32
	}
	model := map[string]map[string]row{} // table → key → row
	im := newImage()
	im.gen = 1
	rng := rand.New(rand.NewPCG(1, 2))
	tables := []string{"a", "b", "c"}
	key := func() []byte {
		owner := fmt.Sprintf("owner-%d", rng.IntN(40))
		switch rng.IntN(3) {
		case 0:
			return keyOf(owner)
		case 1:
			return keyOf(owner, fmt.Sprintf("r%d", rng.IntN(30)))
		}
		return keyOf(owner, "x", strings.Repeat("y", rng.IntN(5)))
	}
	for step := 0; step < 200_000; step++ {
		tb := tables[rng.IntN(len(tables))]
		if model[tb] == nil {
			model[tb] = map[string]row{}
		}
		k := key()
		switch op := rng.IntN(10); {
		case op < 5:
			v := []byte{byte(rng.IntN(3))}
			out, err := im.put(tb, k, v)
			if err != nil {
				t.Fatal(err)
			}
			old, held := model[tb][string(k)]
			h := im.hash(v)
			want := inserted
			if held {
				want = updated
				if old.hash == h {
					want = unchanged
				}
			}
			if out != want {
				t.Fatalf("step %d: put %s %x = %v, want %v", step, tb, k, out, want)
			}
			model[tb][string(k)] = row{hash: h, gen: im.gen}
		case op < 8:
			held, err := im.del(tb, k)
			_, want := model[tb][string(k)]
			if err != nil || held != want {
				t.Fatalf("step %d: del %s %x = %v, %v; want %v", step, tb, k, held, err, want)
			}
			delete(model[tb], string(k))
		case op < 9:
			im.markSeen(tb, k)
			if r, ok := model[tb][string(k)]; ok {
				r.gen = im.gen
				model[tb][string(k)] = r
			}
		default:
			if rng.IntN(100) == 0 {
				im.gen++
				im.compact()
			}
		}
		if step%5000 != 0 {
			continue
		}
		owners := map[string]bool{}
		for _, tb := range tables {
			if im.rows(tb) != len(model[tb]) {
				t.Fatalf("step %d: %s has %d rows, model %d", step, tb, im.rows(tb), len(model[tb]))
			}
			byOwner := map[string][]string{}
			var unseen []string
			for k, r := range model[tb] {
				o, _, _ := splitKey([]byte(k))
				owners[string(o)] = true
				byOwner[string(o)] = append(byOwner[string(o)], k)
				if r.gen != im.gen {
					unseen = append(unseen, k)
				}
				if !im.has(tb, []byte(k)) {
					t.Fatalf("step %d: %s lost %x", step, tb, k)
				}
			}
			for o, keys := range byOwner {
				var got []string
				for _, k := range im.keysOf(tb, o) {
					got = append(got, string(k))
				}
				slices.Sort(got)
				slices.Sort(keys)
				if !slices.Equal(got, keys) {
					t.Fatalf("step %d: keysOf(%s, %s) = %q, want %q", step, tb, o, got, keys)
				}
			}
			var got []string
			im.unseen(tb, func(owner string, k []byte) {
				if o, _, _ := splitKey(k); string(o) != owner {
					t.Fatalf("unseen: owner %q for key %x", owner, k)
				}
				got = append(got, string(k))
			})
			slices.Sort(got)
			slices.Sort(unseen)
			if !slices.Equal(got, unseen) {
				t.Fatalf("step %d: unseen in %s = %d rows, want %d", step, tb, len(got), len(unseen))
			}
			n := 0
			im.each(tb, func(owner string, rest []byte) {
				if _, ok := model[tb][string(ownerKey([]byte(owner), rest))]; !ok {
					t.Fatalf("each: %s has no row %q %x", tb, owner, rest)
				}
				n++
			})
			if n != len(model[tb]) {
				t.Fatalf("step %d: each visited %d rows of %s, want %d", step, n, tb, len(model[tb]))
			}
		}
		if im.ownerCount() != len(owners) {
			t.Fatalf("step %d: %d owners, want %d", step, im.ownerCount(), len(owners))
		}
	}
}

// groupParent reads what the current schema writes (and, by the append-only rule, what
// every version writes).
func TestGroupParentWithoutTheSchema(t *testing.T) {
	p := "parent-1"
	for _, row := range []schemas.GroupRow{
		{ID: "g1", Name: "Engineering", Path: "/Engineering"},
		{ID: "g2", Name: "web", Path: "/Engineering/web", ParentID: &p, Description: &p},
	} {
		c, err := schemas.Group.Upsert(row.Key(), &row)
		if err != nil {
			t.Fatal(err)
		}
		id, parent, err := groupParent(c.Value)
		want := ""
		if row.ParentID != nil {
			want = *row.ParentID
		}
		if err != nil || id != row.ID || parent != want {
			t.Fatalf("groupParent = %q %q %v, want %q %q", id, parent, err, row.ID, want)
		}
	}
	if _, _, err := groupParent([]byte{0x7f}); err == nil {
		t.Fatal("garbage accepted")
	}
}
