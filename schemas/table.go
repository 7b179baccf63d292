package schemas

import (
	"embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/hamba/avro/v2"
)

// Namespace is the Avro namespace of every record keycdc writes.
const Namespace = "io.keycdc"

//go:embed avro/*.avsc
var avsc embed.FS

// ColumnType is the type of a column as a sink sees it: an Avro type, with timestamps and
// string maps named by what they hold.
type ColumnType string

// The column types the tables use. A sink maps each to its own type (e.g. text, boolean,
// timestamptz and jsonb in PostgreSQL).
const (
	TypeString    ColumnType = "string"           // Avro string; Row value string
	TypeBoolean   ColumnType = "boolean"          // Avro boolean; Row value bool
	TypeLong      ColumnType = "long"             // Avro long (or int); Row value int64
	TypeTimestamp ColumnType = "timestamp-millis" // Avro long, logicalType timestamp-millis; Row value time.Time (UTC)
	TypeStringMap ColumnType = "map<string>"      // Avro map of string; Row value map[string]string
)

// Column describes one column of a table's value record (key columns are repeated there).
type Column struct {
	Name     string     // snake_case, as in the Avro field and the ADR
	Type     ColumnType // the type of the value when present
	Optional bool       // the Avro type is ["null", T] with default null
	Doc      string     // the field's doc from the .avsc file
}

// Table is one table of the catalogue: its name, columns, Avro schemas and Go row types.
// Tables are created once at package initialisation from the embedded .avsc files and are
// immutable afterwards, so they are safe for concurrent use and comparable by pointer.
type Table struct {
	name               string
	keyAVSC, valueAVSC string
	keySchema          *avro.RecordSchema
	valueSchema        *avro.RecordSchema
	keyColumns         []string
	columns            []Column
	keyType, valueType reflect.Type // the Go row types Upsert and Delete accept (also as pointers)
	keyDec, valueDec   *rowDecoder
	trailingMap        *avro.RecordSchema // value schema minus its last field, when that field is a string map
}

// The catalogue, in the order of ADR 0001. Each pairs the embedded schemas with the Go row
// types of rows.go.
var (
	User               = mustTable("user", UserKey{}, UserRow{})
	UserAttribute      = mustTable("user_attribute", UserAttributeRow{}, UserAttributeRow{})
	UserRealmRole      = mustTable("user_realm_role", UserRealmRoleKey{}, UserRealmRoleRow{})
	UserClientRole     = mustTable("user_client_role", UserClientRoleKey{}, UserClientRoleRow{})
	UserRequiredAction = mustTable("user_required_action", UserRequiredActionRow{}, UserRequiredActionRow{})
	Group              = mustTable("group", GroupKey{}, GroupRow{})
	GroupMember        = mustTable("group_member", GroupMemberRow{}, GroupMemberRow{})
	Role               = mustTable("role", RoleKey{}, RoleRow{})
	RoleComposite      = mustTable("role_composite", RoleCompositeRow{}, RoleCompositeRow{})
	Client             = mustTable("client", ClientKey{}, ClientRow{})
	Event              = mustTable("event", EventKey{}, EventRow{})
	AdminEvent         = mustTable("admin_event", AdminEventKey{}, AdminEventRow{})
)

// catalogue is the table list in ADR order; byRecord maps record full names to tables.
var (
	catalogue = []*Table{User, UserAttribute, UserRealmRole, UserClientRole, UserRequiredAction,
		Group, GroupMember, Role, RoleComposite, Client, Event, AdminEvent}
	byName   = indexByName(catalogue)
	byRecord = indexByRecord(catalogue)
)

// Tables returns every table in the order of ADR 0001. The slice is a copy.
func Tables() []*Table { return append([]*Table(nil), catalogue...) }

// Lookup returns the table with the given name ("user", "user_attribute", ...).
func Lookup(name string) (*Table, bool) {
	t, ok := byName[name]
	return t, ok
}

// lookupRecord returns the table whose key or value record has the given full name.
func lookupRecord(fullName string) (t *Table, key bool, ok bool) {
	r, ok := byRecord[fullName]
	return r.table, r.key, ok
}

// Name is the table's name, e.g. "user_client_role"; it is also the last part of its topic name.
func (t *Table) Name() string { return t.name }

// String returns the table's name.
func (t *Table) String() string { return t.name }

// KeyColumns returns the names of the key columns in key order. The slice is a copy.
func (t *Table) KeyColumns() []string { return append([]string(nil), t.keyColumns...) }

// Columns returns the value columns in schema order (key columns included). The slice is a copy.
func (t *Table) Columns() []Column { return append([]Column(nil), t.columns...) }

// KeySchema is the parsed key schema, record <Table>Key. Do not modify it.
func (t *Table) KeySchema() avro.Schema { return t.keySchema }

// ValueSchema is the parsed value schema, record <Table>. Do not modify it.
func (t *Table) ValueSchema() avro.Schema { return t.valueSchema }

// KeyAVSC is the text of the key's .avsc file, docs included.
func (t *Table) KeyAVSC() string { return t.keyAVSC }

// ValueAVSC is the text of the value's .avsc file, docs included.
func (t *Table) ValueAVSC() string { return t.valueAVSC }

// mustTable builds a table from avro/<name>.key.avsc and avro/<name>.value.avsc. It panics
// on a malformed file: the files are embedded, so that is a programming error, and any
// test of the package fails on it.
func mustTable(name string, key, value any) *Table {
	t, err := newTable(name, reflect.TypeOf(key), reflect.TypeOf(value))
	if err != nil {
		panic(fmt.Sprintf("schemas: table %s: %v", name, err))
	}
	return t
}

func newTable(name string, keyType, valueType reflect.Type) (*Table, error) {
	t := &Table{name: name, keyType: keyType, valueType: valueType}
	var err error
	if t.keyAVSC, t.keySchema, err = readRecord(name + ".key.avsc"); err != nil {
		return nil, err
	}
	if t.valueAVSC, t.valueSchema, err = readRecord(name + ".value.avsc"); err != nil {
		return nil, err
	}
	pascal := pascalCase(name)
	if got, want := t.keySchema.FullName(), Namespace+"."+pascal+"Key"; got != want {
		return nil, fmt.Errorf("key record is %s, want %s", got, want)
	}
	if got, want := t.valueSchema.FullName(), Namespace+"."+pascal; got != want {
		return nil, fmt.Errorf("value record is %s, want %s", got, want)
	}

	for _, f := range t.valueSchema.Fields() {
		c, err := columnOf(f)
		if err != nil {
			return nil, err
		}
		t.columns = append(t.columns, c)
	}
	for _, f := range t.keySchema.Fields() {
		t.keyColumns = append(t.keyColumns, f.Name())
	}
	if t.keyDec, err = compileRecord(t.keySchema); err != nil {
		return nil, err
	}
	if t.valueDec, err = compileRecord(t.valueSchema); err != nil {
		return nil, err
	}
	if err := t.prepareTrailingMap(); err != nil {
		return nil, err
	}
	return t, nil
}

// readRecord reads and parses one embedded .avsc file, which must hold a record. Each file
// is parsed with its own schema cache so that no name leaks into hamba's global cache.
func readRecord(file string) (string, *avro.RecordSchema, error) {
	b, err := avsc.ReadFile("avro/" + file)
	if err != nil {
		return "", nil, err
	}
	s, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
	if err != nil {
		return "", nil, fmt.Errorf("parse %s: %w", file, err)
	}
	r, ok := s.(*avro.RecordSchema)
	if !ok {
		return "", nil, fmt.Errorf("%s is a %s, not a record", file, s.Type())
	}
	return string(b), r, nil
}

// columnOf describes a field as a column. Only the shapes the catalogue uses are allowed:
// a primitive string, boolean or long (timestamp-millis or plain), a map of strings, or one
// of those in a ["null", T] union with default null.
func columnOf(f *avro.Field) (Column, error) {
	c := Column{Name: f.Name(), Doc: f.Doc()}
	s := f.Type()
	if u, ok := s.(*avro.UnionSchema); ok {
		types := u.Types()
		if len(types) != 2 || types[0].Type() != avro.Null || !f.HasDefault() || f.Default() != nil {
			return c, fmt.Errorf("field %s: a union must be [\"null\", T] with default null", f.Name())
		}
		c.Optional = true
		s = types[1]
	}
	switch {
	case s.Type() == avro.String:
		c.Type = TypeString
	case s.Type() == avro.Boolean:
		c.Type = TypeBoolean
	case s.Type() == avro.Long && isTimestampMillis(s):
		c.Type = TypeTimestamp
	case s.Type() == avro.Long:
		c.Type = TypeLong
	case s.Type() == avro.Map && s.(*avro.MapSchema).Values().Type() == avro.String:
		c.Type = TypeStringMap
	default:
		return c, fmt.Errorf("field %s: type %s is not one the catalogue supports", f.Name(), s.Type())
	}
	return c, nil
}

func isTimestampMillis(s avro.Schema) bool {
	ls, ok := s.(avro.LogicalTypeSchema)
	return ok && ls.Logical() != nil && ls.Logical().Type() == avro.TimestampMillis
}

// prepareTrailingMap handles a value whose last column is an optional string map (details).
// hamba/avro encodes Go maps in iteration order, which Go randomises, and cannot put a
// map[string]string in a union without a global type registration. So Upsert marshals the
// fields before the map with a schema that lacks it and appends the map itself, keys sorted:
// equal rows then always encode to equal bytes. A map anywhere else is refused here.
func (t *Table) prepareTrailingMap() error {
	last := len(t.columns) - 1
	for i, c := range t.columns {
		if c.Type != TypeStringMap {
			continue
		}
		if i != last || !c.Optional {
			return fmt.Errorf("column %s: a string map must be the last column and optional", c.Name)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(t.valueAVSC), &doc); err != nil {
			return err
		}
		fields := doc["fields"].([]any)
		doc["fields"] = fields[:len(fields)-1]
		doc["name"] = doc["name"].(string) + "Prefix" // a distinct name: it is a different schema
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		s, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
		if err != nil {
			return fmt.Errorf("schema without column %s: %w", c.Name, err)
		}
		t.trailingMap = s.(*avro.RecordSchema)
	}
	return nil
}

// pascalCase turns a table name into its record name: user_realm_role → UserRealmRole.
func pascalCase(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	return b.String()
}

func indexByName(ts []*Table) map[string]*Table {
	m := make(map[string]*Table, len(ts))
	for _, t := range ts {
		m[t.name] = t
	}
	return m
}

type recordRef struct {
	table *Table
	key   bool
}

func indexByRecord(ts []*Table) map[string]recordRef {
	m := make(map[string]recordRef, 2*len(ts))
	for _, t := range ts {
		m[t.keySchema.FullName()] = recordRef{t, true}
		m[t.valueSchema.FullName()] = recordRef{t, false}
	}
	return m
}
