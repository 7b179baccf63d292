package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
)

// image is what the topics of one realm hold, reduced to what diffing needs: for every row,
// its encoded key and a hash of its encoded value. Rows are grouped by owner, the first key
// column (a user id, group id, role id or client id), so that a refresh of one owner diffs
// only that owner's rows.
//
// An image is owned by one goroutine; it has no locks.
type image struct {
	seed   maphash.Seed
	gen    uint32 // generation of the running full scan
	tables map[string]*tableImage
	intern map[string]string // owner ids, shared by all tables
}

type tableImage struct {
	owners map[string]*ownerRows
	rows   int
}

// ownerRows holds the rows of one owner in one table. Most owners have a handful of rows and
// are searched linearly; owners with many (a large group's members) get an index.
type ownerRows struct {
	rows []row
	idx  map[string]int32 // rest → position in rows, once len(rows) > indexAt
}

const indexAt = 16

type row struct {
	rest string // the key's encoding after the owner column
	hash uint64 // hash of the encoded value
	gen  uint32 // last full scan generation that saw the row
}

func newImage() *image {
	return &image{seed: maphash.MakeSeed(), tables: map[string]*tableImage{}, intern: map[string]string{}}
}

func (im *image) table(name string) *tableImage {
	t := im.tables[name]
	if t == nil {
		t = &tableImage{owners: map[string]*ownerRows{}}
		im.tables[name] = t
	}
	return t
}

func (im *image) hash(value []byte) uint64 { return maphash.Bytes(im.seed, value) }

func (im *image) internOwner(owner []byte) string {
	if s, ok := im.intern[string(owner)]; ok {
		return s
	}
	s := string(owner)
	im.intern[s] = s
	return s
}

// splitKey splits an Avro-encoded key record into its first column (always a string in
// keycdc's key schemas) and the encoding of the remaining columns.
func splitKey(key []byte) (owner, rest []byte, err error) {
	n, w := binary.Varint(key)
	if w <= 0 || n < 0 || int64(len(key)-w) < n {
		return nil, nil, errors.New("key does not start with an Avro string")
	}
	return key[w : w+int(n)], key[w+int(n):], nil
}

// avroStrings decodes a run of Avro strings (the columns of a key after the owner).
func avroStrings(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		n, w := binary.Varint(b)
		if w <= 0 || n < 0 || int64(len(b)-w) < n {
			return nil, fmt.Errorf("malformed Avro string at byte %d", len(b))
		}
		out = append(out, string(b[w:w+int(n)]))
		b = b[w+int(n):]
	}
	return out, nil
}

// encodeStrings encodes strings as consecutive Avro strings: the key of a row whose key
// columns are all strings.
func encodeStrings(ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = binary.AppendVarint(b, int64(len(s)))
		b = append(b, s...)
	}
	return b
}

func (o *ownerRows) find(rest []byte) int {
	if o.idx != nil {
		if i, ok := o.idx[string(rest)]; ok {
			return int(i)
		}
		return -1
	}
	for i := range o.rows {
		if o.rows[i].rest == string(rest) {
			return i
		}
	}
	return -1
}

func (o *ownerRows) add(r row) {
	o.rows = append(o.rows, r)
	if o.idx != nil {
		o.idx[r.rest] = int32(len(o.rows) - 1)
	} else if len(o.rows) > indexAt {
		o.idx = make(map[string]int32, len(o.rows))
		for i := range o.rows {
			o.idx[o.rows[i].rest] = int32(i)
		}
	}
}

func (o *ownerRows) remove(i int) {
	last := len(o.rows) - 1
	if o.idx != nil {
		delete(o.idx, o.rows[i].rest)
		if i != last {
			o.idx[o.rows[last].rest] = int32(i)
		}
	}
	o.rows[i] = o.rows[last]
	o.rows[last] = row{}
	o.rows = o.rows[:last]
}

// outcome of applying one row to the image.
type outcome int

const (
	unchanged outcome = iota
	inserted
	updated
)

// put records that the row with this key now has this value, marking it seen by the running
// full scan, and says whether that differs from what the image held.
func (im *image) put(table string, key, value []byte) (outcome, error) {
	owner, rest, err := splitKey(key)
	if err != nil {
		return 0, fmt.Errorf("table %s: %w", table, err)
	}
	t := im.table(table)
	h := im.hash(value)
	o := t.owners[string(owner)]
	if o == nil {
		o = &ownerRows{}
		t.owners[im.internOwner(owner)] = o
	}
	if i := o.find(rest); i >= 0 {
		r := &o.rows[i]
		r.gen = im.gen
		if r.hash == h {
			return unchanged, nil
		}
		r.hash = h
		return updated, nil
	}
	o.add(row{rest: string(rest), hash: h, gen: im.gen})
	t.rows++
	return inserted, nil
}

// del forgets the row with this key; it reports whether the image held it.
func (im *image) del(table string, key []byte) (bool, error) {
	owner, rest, err := splitKey(key)
	if err != nil {
		return false, fmt.Errorf("table %s: %w", table, err)
	}
	t := im.table(table)
	o := t.owners[string(owner)]
	if o == nil {
		return false, nil
	}
	i := o.find(rest)
	if i < 0 {
		return false, nil
	}
	o.remove(i)
	t.rows--
	if len(o.rows) == 0 {
		delete(t.owners, string(owner))
	}
	return true, nil
}

// has reports whether the image holds the row with this key.
func (im *image) has(table string, key []byte) bool {
	owner, rest, err := splitKey(key)
	if err != nil {
		return false
	}
	o := im.table(table).owners[string(owner)]
	return o != nil && o.find(rest) >= 0
}

// keysOf returns the encoded keys of every row of owner in table.
func (im *image) keysOf(table, owner string) [][]byte {
	o := im.table(table).owners[owner]
	if o == nil {
		return nil
	}
	prefix := encodeStrings(owner)
	out := make([][]byte, 0, len(o.rows))
	for _, r := range o.rows {
		k := make([]byte, 0, len(prefix)+len(r.rest))
		out = append(out, append(append(k, prefix...), r.rest...))
	}
	return out
}

// unseen calls fn with the key of every row of table that the running full scan has not
// seen. fn must not change the image.
func (im *image) unseen(table string, fn func(owner string, key []byte)) {
	for owner, o := range im.table(table).owners {
		var prefix []byte
		for _, r := range o.rows {
			if r.gen == im.gen {
				continue
			}
			if prefix == nil {
				prefix = encodeStrings(owner)
			}
			k := make([]byte, 0, len(prefix)+len(r.rest))
			fn(owner, append(append(k, prefix...), r.rest...))
		}
	}
}

// each calls fn for every row of table; fn must not change the image.
func (im *image) each(table string, fn func(owner string, rest []byte)) {
	for owner, o := range im.table(table).owners {
		for _, r := range o.rows {
			fn(owner, []byte(r.rest))
		}
	}
}

// markSeen marks the row with this key as seen by the running full scan without changing
// it (a lookup confirmed it).
func (im *image) markSeen(table string, key []byte) {
	owner, rest, err := splitKey(key)
	if err != nil {
		return
	}
	if o := im.table(table).owners[string(owner)]; o != nil {
		if i := o.find(rest); i >= 0 {
			o.rows[i].gen = im.gen
		}
	}
}

// rows returns the number of rows held for table.
func (im *image) rows(table string) int { return im.table(table).rows }

// compactIntern drops interned owner ids that no table uses any more.
func (im *image) compactIntern() {
	live := make(map[string]string, len(im.intern))
	for _, t := range im.tables {
		for owner := range t.owners {
			live[owner] = owner
		}
	}
	im.intern = live
}
