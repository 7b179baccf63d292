package schemas

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hamba/avro/v2"
)

// Row is a decoded key or value record: column name → value. Values are only nil (a null
// optional column), string, bool, int64, time.Time (UTC, for timestamp-millis) and
// map[string]string. A Row holds exactly the fields of the schema the record was written
// with, so a row written by a newer keycdc may hold columns Columns does not list, and one
// written by an older keycdc may lack some.
type Row map[string]any

// ErrMalformed marks a record that can never be decoded: a bad wire header, a schema id the
// registry does not know, or a body that does not fit its schema. Retrying will not help.
var ErrMalformed = errors.New("malformed record")

// IsMalformed reports whether err means the record itself is bad (see ErrMalformed), as
// opposed to, say, the schema registry being unreachable.
func IsMalformed(err error) bool { return errors.Is(err, ErrMalformed) }

// DecodeKey decodes an Avro body (no wire header) with t's current key schema.
func (t *Table) DecodeKey(body []byte) (Row, error) {
	r, err := t.keyDec.decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode %s key: %w", t.name, err)
	}
	return r, nil
}

// DecodeValue decodes an Avro body (no wire header) with t's current value schema.
func (t *Table) DecodeValue(body []byte) (Row, error) {
	r, err := t.valueDec.decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode %s value: %w", t.name, err)
	}
	return r, nil
}

// rowDecoder decodes records of one schema into Rows. It is compiled once per schema, holds
// no mutable state and is safe for concurrent use. It reads the bytes itself rather than
// through hamba's generic decoder so that every value has one of Row's types, and so that no
// input, however corrupt, can make it panic or allocate more than the input could hold.
type rowDecoder struct {
	name   string // full name of the record
	fields []fieldDecoder
}

type valueKind uint8

const (
	kindNull valueKind = iota
	kindBoolean
	kindInt // Avro int, widened to int64
	kindLong
	kindTimestampMillis
	kindString
	kindEnum // decoded to the symbol's string
	kindStringMap
)

type fieldDecoder struct {
	name string
	// branches lists the kinds of a union's branches in order; a plain field has one
	// entry and no branch index on the wire.
	branches []valueKind
	union    bool
	symbols  [][]string // per branch, the symbols of an enum
}

// compileRecord prepares a decoder for a record schema. Schemas whose fields use types Row
// cannot hold (bytes, floats, arrays, nested records ...) are refused here, before any data
// is read.
func compileRecord(s avro.Schema) (*rowDecoder, error) {
	rs, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("schema is a %s, not a record", s.Type())
	}
	d := &rowDecoder{name: rs.FullName(), fields: make([]fieldDecoder, 0, len(rs.Fields()))}
	for _, f := range rs.Fields() {
		fd := fieldDecoder{name: f.Name()}
		types := []avro.Schema{f.Type()}
		if u, ok := f.Type().(*avro.UnionSchema); ok {
			fd.union = true
			types = u.Types()
		}
		for _, ts := range types {
			k, syms, err := kindOf(ts)
			if err != nil {
				return nil, fmt.Errorf("record %s field %q: %w", d.name, f.Name(), err)
			}
			fd.branches = append(fd.branches, k)
			fd.symbols = append(fd.symbols, syms)
		}
		d.fields = append(d.fields, fd)
	}
	return d, nil
}

func kindOf(s avro.Schema) (valueKind, []string, error) {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	switch s.Type() {
	case avro.Null:
		return kindNull, nil, nil
	case avro.Boolean:
		return kindBoolean, nil, nil
	case avro.Int:
		return kindInt, nil, nil
	case avro.Long:
		if isTimestampMillis(s) {
			return kindTimestampMillis, nil, nil
		}
		return kindLong, nil, nil
	case avro.String:
		return kindString, nil, nil
	case avro.Enum:
		return kindEnum, s.(*avro.EnumSchema).Symbols(), nil
	case avro.Map:
		if s.(*avro.MapSchema).Values().Type() == avro.String {
			return kindStringMap, nil, nil
		}
	}
	return 0, nil, fmt.Errorf("type %s cannot be held in a Row", s.Type())
}

// decode decodes one record body, which must be consumed exactly.
func (d *rowDecoder) decode(body []byte) (Row, error) {
	r := binReader{b: body}
	row := make(Row, len(d.fields))
	for i := range d.fields {
		f := &d.fields[i]
		v, err := f.decode(&r)
		if err != nil {
			return nil, fmt.Errorf("%w: body does not fit %s: field %q: %v", ErrMalformed, d.name, f.name, err)
		}
		row[f.name] = v
	}
	if left := len(r.b) - r.off; left != 0 {
		return nil, fmt.Errorf("%w: body does not fit %s: %d bytes left after the last field", ErrMalformed, d.name, left)
	}
	return row, nil
}

func (f *fieldDecoder) decode(r *binReader) (any, error) {
	branch := 0
	if f.union {
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(f.branches)) {
			return nil, fmt.Errorf("union branch %d out of range [0,%d)", i, len(f.branches))
		}
		branch = int(i)
	}
	switch f.branches[branch] {
	case kindNull:
		return nil, nil
	case kindBoolean:
		return r.boolean()
	case kindInt:
		v, err := r.long()
		if err == nil && (v < math.MinInt32 || v > math.MaxInt32) {
			err = fmt.Errorf("int %d out of range", v)
		}
		return v, err
	case kindLong:
		return r.long()
	case kindTimestampMillis:
		v, err := r.long()
		if err != nil {
			return nil, err
		}
		return time.UnixMilli(v).UTC(), nil
	case kindString:
		return r.str()
	case kindEnum:
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		syms := f.symbols[branch]
		if i < 0 || i >= int64(len(syms)) {
			return nil, fmt.Errorf("enum index %d out of range [0,%d)", i, len(syms))
		}
		return syms[i], nil
	case kindStringMap:
		return r.stringMap()
	}
	return nil, fmt.Errorf("unknown kind %d", f.branches[branch])
}

// binReader reads Avro binary encoding from a byte slice, checking every length against
// what is left.
type binReader struct {
	b   []byte
	off int
}

var errShort = errors.New("unexpected end of data")

// long reads a zig-zag varint of at most 10 bytes.
func (r *binReader) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if r.off >= len(r.b) {
			return 0, errShort
		}
		c := r.b[r.off]
		r.off++
		if shift == 63 && c > 1 {
			return 0, errors.New("varint overflows a long")
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errors.New("varint longer than 10 bytes")
}

func (r *binReader) boolean() (bool, error) {
	if r.off >= len(r.b) {
		return false, errShort
	}
	c := r.b[r.off]
	r.off++
	switch c {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("boolean byte %#x is neither 0 nor 1", c)
}

func (r *binReader) str() (string, error) {
	n, err := r.long()
	if err != nil {
		return "", err
	}
	if n < 0 || n > int64(len(r.b)-r.off) {
		return "", fmt.Errorf("string length %d, %d bytes left", n, len(r.b)-r.off)
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

// stringMap reads map blocks until a zero count. A negative count is followed by the
// block's size in bytes, which is checked and otherwise ignored.
func (r *binReader) stringMap() (map[string]string, error) {
	m := map[string]string{}
	for {
		n, err := r.long()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return m, nil
		}
		if n < 0 {
			if n == math.MinInt64 {
				return nil, errors.New("map block count out of range")
			}
			n = -n
			size, err := r.long()
			if err != nil {
				return nil, err
			}
			if size < 0 || size > int64(len(r.b)-r.off) {
				return nil, fmt.Errorf("map block size %d, %d bytes left", size, len(r.b)-r.off)
			}
		}
		// Each entry takes at least two bytes (two empty strings).
		if n > int64(len(r.b)-r.off)/2 {
			return nil, fmt.Errorf("map block of %d entries, %d bytes left", n, len(r.b)-r.off)
		}
		for range n {
			k, err := r.str()
			if err != nil {
				return nil, err
			}
			v, err := r.str()
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
	}
}
