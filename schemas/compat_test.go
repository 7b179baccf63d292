package schemas

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

// TestCompatWithReleased checks that the current schemas read data written with every
// released version in testdata/compat: hamba's compatibility verdict, and the released
// sample rows decoded with their writer schema giving every current column (or an optional
// column's absence) with the current column's type.
func TestCompatWithReleased(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "compat", "v*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no released versions in testdata/compat (%v)", err)
	}
	compat := avro.NewSchemaCompatibility()
	for _, dir := range dirs {
		writers := map[*Table][2]*rowDecoder{}
		for _, tab := range Tables() {
			var decs [2]*rowDecoder
			for i, c := range []struct {
				file    string
				current avro.Schema
			}{{tab.Name() + ".key.avsc", tab.KeySchema()}, {tab.Name() + ".value.avsc", tab.ValueSchema()}} {
				text, err := os.ReadFile(filepath.Join(dir, c.file))
				if err != nil {
					t.Fatal(err)
				}
				old, err := avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
				if err != nil {
					t.Fatalf("%s/%s: %v", dir, c.file, err)
				}
				if err := compat.Compatible(c.current, old); err != nil {
					t.Errorf("%s/%s: the current schema cannot read its data: %v", dir, c.file, err)
				}
				if decs[i], err = compileRecord(old); err != nil {
					t.Fatal(err)
				}
			}
			writers[tab] = decs
		}
		for _, r := range readGoldenRows(t, filepath.Join(dir, "rows")) {
			decs := writers[r.table]
			key, err := decs[0].decode(r.key)
			if err != nil {
				t.Errorf("%s %s %s key: %v", dir, r.table, r.name, err)
				continue
			}
			value, err := decs[1].decode(r.value)
			if err != nil {
				t.Errorf("%s %s %s value: %v", dir, r.table, r.name, err)
				continue
			}
			for _, k := range r.table.KeyColumns() {
				if _, ok := key[k]; !ok {
					t.Errorf("%s %s %s: key lacks column %s", dir, r.table, r.name, k)
				}
			}
			for _, c := range r.table.Columns() {
				v, ok := value[c.Name]
				switch {
				case !ok && !c.Optional:
					t.Errorf("%s %s %s: lacks required column %s", dir, r.table, r.name, c.Name)
				case ok && v == nil && !c.Optional:
					t.Errorf("%s %s %s: required column %s is null", dir, r.table, r.name, c.Name)
				case ok && v != nil && !holds(c.Type, v):
					t.Errorf("%s %s %s: column %s holds %T, the current type is %s", dir, r.table, r.name, c.Name, v, c.Type)
				}
			}
		}
	}
}

func holds(typ ColumnType, v any) bool {
	switch v.(type) {
	case string:
		return typ == TypeString
	case bool:
		return typ == TypeBoolean
	case int64:
		return typ == TypeLong
	case time.Time:
		return typ == TypeTimestamp
	case map[string]string:
		return typ == TypeStringMap
	}
	return false
}
