package snapshot

import (
	"bytes"
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
	im.compactIntern()
	if len(im.intern) != 2 {
		t.Fatalf("intern holds %d owners, want 2", len(im.intern))
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
	h.Merge(&u)
	if h.users["u7"] != hintCore {
		t.Fatal("merge lost a user hint")
	}
}
