package schemas

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// adrTables is the table of ADR 0001 ("Tables"), copied verbatim: the contract the catalogue
// implements. `?` marks an optional column, "(ts)" a timestamp, "(map of string)" a map.
const adrTables = `
| user | id | id, username, email?, first_name?, last_name?, enabled, email_verified, created_timestamp? (ts), service_account_client_id?, federation_link? |
| user_attribute | user_id, attribute_key, attribute_value | same |
| user_realm_role | user_id, role_name | user_id, role_name, role_id? |
| user_client_role | user_id, client_id, role_name | user_id, client_id, role_name, role_id?, client_uuid? |
| user_required_action | user_id, required_action | same |
| group | id | id, name, path, parent_id?, description? |
| group_member | group_id, user_id | same |
| role | id | id, name, description?, composite, client_role, container_id, client_id? |
| role_composite | role_id, composite_role_id | same |
| client | id | id, client_id, name?, description?, enabled, public_client, protocol?, base_url?, root_url?, bearer_only, service_accounts_enabled |
| event | id | id, time (ts), type, realm_id?, user_id?, session_id?, ip_address?, client_id?, error?, details? (map of string) |
| admin_event | id | id, time (ts), operation_type, resource_type, resource_path?, realm_id?, auth_realm_id?, auth_client_id?, auth_user_id?, auth_ip_address?, error?, representation?, details? (map of string) |
`

// booleans lists the columns the ADR does not type but that are flags in Keycloak.
var booleans = []string{"enabled", "email_verified", "composite", "client_role", "public_client", "bearer_only", "service_accounts_enabled"}

func TestCatalogueMatchesADR(t *testing.T) {
	var names []string
	for line := range strings.SplitSeq(strings.TrimSpace(adrTables), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		name, keys, values := cells[0], strings.Split(cells[1], ", "), cells[2]
		names = append(names, name)
		if values == "same" {
			values = cells[1]
		}
		tab, ok := Lookup(name)
		if !ok {
			t.Errorf("Lookup(%q) found nothing", name)
			continue
		}
		if got := tab.KeyColumns(); !slices.Equal(got, keys) {
			t.Errorf("%s key columns = %v, want %v", name, got, keys)
		}
		var want []Column
		for spec := range strings.SplitSeq(values, ", ") {
			c := Column{Type: TypeString}
			spec, c.Type = cutType(spec)
			spec, c.Optional = strings.CutSuffix(spec, "?")
			c.Name = spec
			if slices.Contains(booleans, c.Name) {
				c.Type = TypeBoolean
			}
			want = append(want, c)
		}
		got := tab.Columns()
		for i := range got {
			if got[i].Doc == "" {
				t.Errorf("%s column %s has no doc", name, got[i].Name)
			}
			got[i].Doc = ""
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s columns:\n got %v\nwant %v", name, got, want)
		}
	}
	var got []string
	for _, tab := range Tables() {
		got = append(got, tab.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("Tables() = %v, want the ADR's order %v", got, names)
	}
}

func cutType(spec string) (string, ColumnType) {
	if s, ok := strings.CutSuffix(spec, " (ts)"); ok {
		return s, TypeTimestamp
	}
	if s, ok := strings.CutSuffix(spec, " (map of string)"); ok {
		return s, TypeStringMap
	}
	return spec, TypeString
}

func TestRecordNamesAndDocs(t *testing.T) {
	for _, tab := range Tables() {
		pascal := pascalCase(tab.Name())
		for _, c := range []struct {
			text, want string
			schema     interface{ Doc() string }
		}{
			{tab.KeyAVSC(), Namespace + "." + pascal + "Key", tab.keySchema},
			{tab.ValueAVSC(), Namespace + "." + pascal, tab.valueSchema},
		} {
			if c.schema.Doc() == "" {
				t.Errorf("record %s has no doc", c.want)
			}
			if !strings.Contains(c.text, `"name": "`+strings.TrimPrefix(c.want, Namespace+".")+`"`) {
				t.Errorf("%s: .avsc text does not name the record", c.want)
			}
		}
		if got := tab.KeySchema().(interface{ FullName() string }).FullName(); got != Namespace+"."+pascal+"Key" {
			t.Errorf("%s key record = %s", tab.Name(), got)
		}
		for _, f := range tab.keySchema.Fields() {
			if f.Doc() == "" {
				t.Errorf("%s key field %s has no doc", tab.Name(), f.Name())
			}
		}
		// Key columns are repeated in the value with the same type.
		for _, kf := range tab.keySchema.Fields() {
			var found bool
			for _, vf := range tab.valueSchema.Fields() {
				if vf.Name() == kf.Name() {
					found = true
					if vf.Type().String() != kf.Type().String() {
						t.Errorf("%s key column %s is %s in the key, %s in the value", tab.Name(), kf.Name(), kf.Type(), vf.Type())
					}
				}
			}
			if !found {
				t.Errorf("%s key column %s is missing from the value", tab.Name(), kf.Name())
			}
		}
	}
}

func TestLookup(t *testing.T) {
	if tab, ok := Lookup("user_client_role"); !ok || tab != UserClientRole {
		t.Errorf("Lookup(user_client_role) = %v, %v", tab, ok)
	}
	if _, ok := Lookup("users"); ok {
		t.Error("Lookup(users) found a table")
	}
	ts := Tables()
	ts[0] = nil
	if Tables()[0] != User {
		t.Error("Tables returned the catalogue itself, not a copy")
	}
}

// TestGoTypesMatchSchemas checks each Go row type against its schema: one struct field per
// Avro field, pointers exactly for optional columns, and Go types that hold the Avro type.
func TestGoTypesMatchSchemas(t *testing.T) {
	goType := map[ColumnType]reflect.Type{
		TypeString:    reflect.TypeFor[string](),
		TypeBoolean:   reflect.TypeFor[bool](),
		TypeTimestamp: reflect.TypeFor[time.Time](),
		TypeStringMap: reflect.TypeFor[map[string]string](),
	}
	check := func(tab *Table, typ reflect.Type, cols []Column) {
		t.Helper()
		fields := map[string]reflect.Type{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			fields[f.Tag.Get("avro")] = f.Type
		}
		if len(fields) != len(cols) {
			t.Errorf("%s: %s has %d fields, the schema %d", tab.Name(), typ, len(fields), len(cols))
		}
		for _, c := range cols {
			want := goType[c.Type]
			if c.Optional && c.Type != TypeStringMap {
				want = reflect.PointerTo(want)
			}
			if got := fields[c.Name]; got != want {
				t.Errorf("%s: %s field for column %s is %v, want %v", tab.Name(), typ, c.Name, got, want)
			}
		}
	}
	for _, tab := range Tables() {
		check(tab, tab.valueType, tab.Columns())
		var keyCols []Column
		for _, k := range tab.KeyColumns() {
			for _, c := range tab.Columns() {
				if c.Name == k {
					keyCols = append(keyCols, c)
				}
			}
		}
		check(tab, tab.keyType, keyCols)
	}
}
