package schemas

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"

	"github.com/hamba/avro/v2"
)

// Change is one row change of one table: the Avro binary bodies of the key and value
// records, without the Confluent wire header (Codec.Frame adds it). Value == nil means the
// row is gone: the record is a tombstone. Equal rows always encode to equal bytes, so Value
// can be hashed to detect a changed row.
type Change struct {
	Table *Table
	Key   []byte
	Value []byte // nil for a tombstone
}

// Upsert encodes a row of t. key must be t's key type and value its row type (see rows.go),
// each given by value or by pointer; anything else is an error, even if it would encode,
// because it would put another table's bytes in this table's topic.
func (t *Table) Upsert(key, value any) (Change, error) {
	k, err := t.encodeKey(key)
	if err != nil {
		return Change{}, err
	}
	if !isType(value, t.valueType) {
		return Change{}, fmt.Errorf("encode %s value: got %T, want %s or *%[2]s", t.name, value, t.valueType)
	}
	var v []byte
	if t.trailingMap != nil {
		v, err = t.encodeWithTrailingMap(value)
	} else {
		v, err = avro.Marshal(t.valueSchema, value)
	}
	if err != nil {
		return Change{}, fmt.Errorf("encode %s value: %w", t.name, err)
	}
	return Change{Table: t, Key: k, Value: v}, nil
}

// Delete encodes a tombstone of t for key, which must be t's key type (by value or pointer).
func (t *Table) Delete(key any) (Change, error) {
	k, err := t.encodeKey(key)
	if err != nil {
		return Change{}, err
	}
	return Change{Table: t, Key: k}, nil
}

func (t *Table) encodeKey(key any) ([]byte, error) {
	if !isType(key, t.keyType) {
		return nil, fmt.Errorf("encode %s key: got %T, want %s or *%[2]s", t.name, key, t.keyType)
	}
	b, err := avro.Marshal(t.keySchema, key)
	if err != nil {
		return nil, fmt.Errorf("encode %s key: %w", t.name, err)
	}
	return b, nil
}

// isType reports whether v is a want or a non-nil *want.
func isType(v any, want reflect.Type) bool {
	got := reflect.TypeOf(v)
	if got == want {
		return true
	}
	if got == nil || got.Kind() != reflect.Pointer || got.Elem() != want {
		return false
	}
	return !reflect.ValueOf(v).IsNil()
}

// encodeWithTrailingMap encodes a value whose last column is an optional string map: hamba
// marshals the other fields (t.trailingMap lacks the map, and hamba ignores struct fields a
// schema does not name), then the union branch and the map follow with keys in sorted order.
// A map is one block: a positive count, then key and value strings, then a zero count.
func (t *Table) encodeWithTrailingMap(value any) ([]byte, error) {
	m, ok := details(value)
	if !ok {
		return nil, fmt.Errorf("no trailing map accessor for %T", value)
	}
	b, err := avro.Marshal(t.trailingMap, value)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return append(b, 0), nil // union branch 0: null
	}
	keys := make([]string, 0, len(m))
	size := 0
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	slices.Sort(keys)
	b = slices.Grow(b, 2+binary.MaxVarintLen64+size)
	b = binary.AppendVarint(b, 1) // union branch 1: the map (columnOf made sure null is branch 0)
	if len(m) > 0 {
		b = binary.AppendVarint(b, int64(len(m)))
		for _, k := range keys {
			b = appendString(b, k)
			b = appendString(b, m[k])
		}
	}
	return append(b, 0), nil // end of blocks
}

// appendString appends an Avro string: its length as a zig-zag varint, then its bytes.
func appendString(b []byte, s string) []byte {
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}
