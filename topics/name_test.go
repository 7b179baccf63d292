package topics

import (
	"strings"
	"testing"

	"github.com/keycdc/keycdc/schemas"
)

func TestName(t *testing.T) {
	for _, c := range []struct {
		realm, want string
	}{
		{"acme", "keycdc.acme.user_client_role"},
		{"Acme-Corp_2.eu", "keycdc.Acme-Corp_2.eu.user_client_role"},
		{"my realm/x", "keycdc.my_realm_x.user_client_role"},
		{"café", "keycdc.caf__.user_client_role"}, // é is two bytes
		{"a:b*c", "keycdc.a_b_c.user_client_role"},
	} {
		if got := Name("keycdc", c.realm, schemas.UserClientRole); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.realm, got, c.want)
		}
	}
	if got := CheckpointTopic("keycdc"); got != "keycdc._keycdc_checkpoints" {
		t.Errorf("CheckpointTopic = %q", got)
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, ok := range []string{"keycdc", "prod.keycdc-1_x", strings.Repeat("k", MaxNameLen-len(checkpointSuffix))} {
		if err := ValidatePrefix(ok); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "key cdc", "keycdc/", "kéy", strings.Repeat("k", MaxNameLen-len(checkpointSuffix)+1)} {
		if err := ValidatePrefix(bad); err == nil {
			t.Errorf("ValidatePrefix(%q) accepted it", bad)
		}
	}
}

func TestCollisions(t *testing.T) {
	if err := Collisions("keycdc", []string{"acme", "Acme", "other-realm", "eu.west"}); err != nil {
		t.Errorf("distinct realms: %v", err)
	}
	for _, c := range []struct {
		name   string
		prefix string
		realms []string
		want   []string
	}{
		{"same after replacement", "k", []string{"my realm", "my_realm"}, []string{`realms "my realm" and "my_realm" both map`}},
		{"same after Kafka folds . into _", "k", []string{"eu.west", "eu_west"}, []string{`realms "eu.west" and "eu_west" map to topics`, "folds"}},
		{"a realm plus a table name", "k", []string{"a", "a.user.realm"}, []string{`"a" and "a.user.realm"`, "k.a.user_realm_role", "k.a.user.realm.role"}},
		{"listed twice", "k", []string{"acme", "acme"}, []string{`realm "acme" is listed twice`}},
		{"empty", "k", []string{""}, []string{"empty"}},
		{"too long", "k", []string{strings.Repeat("r", 240)}, []string{"bytes long, Kafka allows 249"}},
		{"every problem at once", "k", []string{"", "x y", "x_y", "p.q", "p_q"}, []string{"empty", `"x y" and "x_y"`, `"p.q" and "p_q"`}},
	} {
		err := Collisions(c.prefix, c.realms)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != len(c.want) && c.name == "every problem at once" {
			t.Errorf("%s: %d problems reported, want 3 (one per pair): %v", c.name, n, err)
		}
	}
}
