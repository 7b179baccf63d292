package snapshot

import (
	"bytes"
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
// The image is the one structure whose size grows with the realm (hundreds of thousands of
// rows), so it holds no Go pointers per row: owner ids and the rest of each key live in
// byte arenas, rows in flat slices of fixed-size records, and lookups go through
// open-addressing tables of row numbers. The garbage collector therefore never traces it,
// and a row costs about 60 bytes plus its key (BenchmarkImage).
//
// An image is owned by one goroutine; it has no locks.
type image struct {
	seed   maphash.Seed
	gen    uint32 // generation of the running full scan
	tables map[string]*tableImage
	owners ownerTable // owner ids, shared by all tables
}

func newImage() *image {
	im := &image{seed: maphash.MakeSeed(), tables: map[string]*tableImage{}}
	im.owners.seed = im.seed
	return im
}

func (im *image) table(name string) *tableImage {
	t := im.tables[name]
	if t == nil {
		t = &tableImage{seed: im.seed, free: none}
		im.tables[name] = t
	}
	return t
}

func (im *image) hash(value []byte) uint64 { return maphash.Bytes(im.seed, value) }

// none marks the end of a chain and an empty slot.
const none = -1

// ownerTable interns owner ids as small integers. An owner's number stays the same while
// any table holds a row of it; numbers of owners without rows are reused.
type ownerTable struct {
	seed  maphash.Seed
	arena []byte
	dead  int // bytes of arena no owner uses
	recs  []ownerRec
	free  []uint32
	index slots // owner numbers by hash of the id
	live  int
}

type ownerRec struct {
	off, n uint32
	rows   uint32 // rows of this owner in all tables; 0 means the number is free
}

func (ot *ownerTable) id(o uint32) []byte {
	r := ot.recs[o]
	return ot.arena[r.off : r.off+r.n]
}

// find returns the number of owner, or none.
func (ot *ownerTable) find(owner []byte) int32 {
	h := maphash.Bytes(ot.seed, owner)
	return ot.index.find(h, func(o int32) bool { return bytes.Equal(ot.id(uint32(o)), owner) })
}

// intern returns the number of owner, adding it when new.
func (ot *ownerTable) intern(owner []byte) uint32 {
	if o := ot.find(owner); o != none {
		return uint32(o)
	}
	var o uint32
	rec := ownerRec{off: uint32(len(ot.arena)), n: uint32(len(owner))}
	ot.arena = append(ot.arena, owner...)
	if n := len(ot.free); n > 0 {
		o = ot.free[n-1]
		ot.free = ot.free[:n-1]
		ot.recs[o] = rec
	} else {
		o = uint32(len(ot.recs))
		ot.recs = append(ot.recs, rec)
	}
	ot.live++
	ot.index.insert(maphash.Bytes(ot.seed, owner), int32(o), ot.rehash)
	return o
}

func (ot *ownerTable) rehash(o int32) uint64 { return maphash.Bytes(ot.seed, ot.id(uint32(o))) }

// release drops one row of owner o and forgets the owner with its last row.
func (ot *ownerTable) release(o uint32) {
	r := &ot.recs[o]
	r.rows--
	if r.rows > 0 {
		return
	}
	h := maphash.Bytes(ot.seed, ot.id(o))
	ot.index.remove(h, int32(o), ot.rehash)
	ot.dead += int(r.n)
	*r = ownerRec{}
	ot.free = append(ot.free, o)
	ot.live--
}

// compact rewrites the arena without the ids of forgotten owners.
func (ot *ownerTable) compact() {
	if ot.dead == 0 {
		return
	}
	arena := make([]byte, 0, len(ot.arena)-ot.dead)
	for i := range ot.recs {
		r := &ot.recs[i]
		if r.rows == 0 {
			continue
		}
		off := uint32(len(arena))
		arena = append(arena, ot.arena[r.off:r.off+r.n]...)
		r.off = off
	}
	ot.arena, ot.dead = arena, 0
}

// tableImage holds the rows of one table. Rows of one owner form a doubly linked chain
// starting at heads[owner].
type tableImage struct {
	seed  maphash.Seed
	recs  []rowRec
	free  int32 // first free record (chained through next), or none
	rows  int
	arena []byte // the keys' encodings after the owner column
	dead  int
	index slots   // record numbers by hash of (owner, rest)
	heads []int32 // owner number → first record of that owner, or none
}

type rowRec struct {
	hash       uint64 // hash of the encoded value
	owner      uint32
	off, n     uint32 // rest of the key in arena
	gen        uint32 // last full scan generation that saw the row
	next, prev int32
}

// freeOwner marks a record slot as free.
const freeOwner = ^uint32(0)

func (t *tableImage) rest(i int32) []byte {
	r := &t.recs[i]
	return t.arena[r.off : r.off+r.n]
}

func (t *tableImage) keyHash(owner uint32, rest []byte) uint64 {
	h := maphash.Bytes(t.seed, rest)
	h ^= (uint64(owner) + 1) * 0x9e3779b97f4a7c15
	return h ^ h>>31
}

func (t *tableImage) rehash(i int32) uint64 { return t.keyHash(t.recs[i].owner, t.rest(i)) }

func (t *tableImage) find(owner uint32, rest []byte) int32 {
	return t.index.find(t.keyHash(owner, rest), func(i int32) bool {
		return t.recs[i].owner == owner && bytes.Equal(t.rest(i), rest)
	})
}

func (t *tableImage) head(owner uint32) int32 {
	if int(owner) < len(t.heads) {
		return t.heads[owner]
	}
	return none
}

func (t *tableImage) add(owner uint32, rest []byte, hash uint64, gen uint32) {
	rec := rowRec{hash: hash, owner: owner, off: uint32(len(t.arena)), n: uint32(len(rest)), gen: gen, next: none, prev: none}
	t.arena = append(t.arena, rest...)
	for int(owner) >= len(t.heads) {
		t.heads = append(t.heads, none)
	}
	if h := t.heads[owner]; h != none {
		rec.next = h
	}
	var i int32
	if t.free != none {
		i = t.free
		t.free = t.recs[i].next
		t.recs[i] = rec
	} else {
		i = int32(len(t.recs))
		t.recs = append(t.recs, rec)
	}
	if rec.next != none {
		t.recs[rec.next].prev = i
	}
	t.heads[owner] = i
	t.index.insert(t.keyHash(owner, rest), i, t.rehash)
	t.rows++
}

func (t *tableImage) remove(i int32) {
	r := t.recs[i]
	t.index.remove(t.keyHash(r.owner, t.rest(i)), i, t.rehash)
	if r.prev != none {
		t.recs[r.prev].next = r.next
	} else {
		t.heads[r.owner] = r.next
	}
	if r.next != none {
		t.recs[r.next].prev = r.prev
	}
	t.dead += int(r.n)
	t.recs[i] = rowRec{owner: freeOwner, next: t.free}
	t.free = i
	t.rows--
}

// compact rewrites the arena without the keys of removed rows.
func (t *tableImage) compact() {
	if t.dead == 0 {
		return
	}
	arena := make([]byte, 0, len(t.arena)-t.dead)
	for i := range t.recs {
		r := &t.recs[i]
		if r.owner == freeOwner {
			continue
		}
		off := uint32(len(arena))
		arena = append(arena, t.arena[r.off:r.off+r.n]...)
		r.off = off
	}
	t.arena, t.dead = arena, 0
}

// slots is an open-addressing hash table of non-negative numbers (row or owner numbers)
// with linear probing; it stores only the numbers, and the caller's functions compare keys
// and recompute hashes. Removal shifts entries back, so there are no tombstones.
type slots struct {
	s []int32 // number+1; 0 is empty
	n int
}

func (s *slots) find(h uint64, match func(int32) bool) int32 {
	if len(s.s) == 0 {
		return none
	}
	mask := uint64(len(s.s) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := s.s[i]
		if v == 0 {
			return none
		}
		if match(v - 1) {
			return v - 1
		}
	}
}

func (s *slots) insert(h uint64, v int32, rehash func(int32) uint64) {
	if (s.n+1)*4 > len(s.s)*3 {
		s.grow(rehash)
	}
	mask := uint64(len(s.s) - 1)
	i := h & mask
	for s.s[i] != 0 {
		i = (i + 1) & mask
	}
	s.s[i] = v + 1
	s.n++
}

func (s *slots) grow(rehash func(int32) uint64) {
	old := s.s
	s.s = make([]int32, max(16, 2*len(old)))
	mask := uint64(len(s.s) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := rehash(v-1) & mask
		for s.s[i] != 0 {
			i = (i + 1) & mask
		}
		s.s[i] = v
	}
}

func (s *slots) remove(h uint64, v int32, rehash func(int32) uint64) {
	mask := uint64(len(s.s) - 1)
	i := h & mask
	for s.s[i] != v+1 {
		if s.s[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	// Empty slot i, then move back each following entry of the run whose home slot is not
	// cyclically within (i, j]: it was pushed past i and must stay reachable from its home.
	for j := (i + 1) & mask; s.s[j] != 0; j = (j + 1) & mask {
		k := rehash(s.s[j]-1) & mask
		stays := i < k && k <= j
		if j < i {
			stays = i < k || k <= j
		}
		if !stays {
			s.s[i] = s.s[j]
			i = j
		}
	}
	s.s[i] = 0
	s.n--
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

// ownerKey builds a key from an owner and the rest of the key.
func ownerKey(owner, rest []byte) []byte {
	k := make([]byte, 0, binary.MaxVarintLen64+len(owner)+len(rest))
	k = binary.AppendVarint(k, int64(len(owner)))
	k = append(k, owner...)
	return append(k, rest...)
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
	o := im.owners.intern(owner)
	if i := t.find(o, rest); i != none {
		r := &t.recs[i]
		r.gen = im.gen
		if r.hash == h {
			return unchanged, nil
		}
		r.hash = h
		return updated, nil
	}
	t.add(o, rest, h, im.gen)
	im.owners.recs[o].rows++
	return inserted, nil
}

// lookup finds the row with this key: its table, record number and owner number.
func (im *image) lookup(table string, key []byte) (*tableImage, int32, error) {
	owner, rest, err := splitKey(key)
	if err != nil {
		return nil, none, fmt.Errorf("table %s: %w", table, err)
	}
	t := im.tables[table]
	if t == nil {
		return nil, none, nil
	}
	o := im.owners.find(owner)
	if o == none {
		return t, none, nil
	}
	return t, t.find(uint32(o), rest), nil
}

// del forgets the row with this key; it reports whether the image held it.
func (im *image) del(table string, key []byte) (bool, error) {
	t, i, err := im.lookup(table, key)
	if err != nil || i == none {
		return false, err
	}
	o := t.recs[i].owner
	t.remove(i)
	im.owners.release(o)
	return true, nil
}

// has reports whether the image holds the row with this key.
func (im *image) has(table string, key []byte) bool {
	_, i, err := im.lookup(table, key)
	return err == nil && i != none
}

// keysOf returns the encoded keys of every row of owner in table.
func (im *image) keysOf(table, owner string) [][]byte {
	t := im.tables[table]
	o := im.owners.find([]byte(owner))
	if t == nil || o == none {
		return nil
	}
	var out [][]byte
	for i := t.head(uint32(o)); i != none; i = t.recs[i].next {
		out = append(out, ownerKey([]byte(owner), t.rest(i)))
	}
	return out
}

// unseen calls fn with the key of every row of table that the running full scan has not
// seen. fn must not change the image.
func (im *image) unseen(table string, fn func(owner string, key []byte)) {
	var last uint32 = freeOwner
	var owner string
	im.walk(table, func(t *tableImage, o uint32, i int32) {
		if t.recs[i].gen == im.gen {
			return
		}
		if o != last {
			last, owner = o, string(im.owners.id(o))
		}
		fn(owner, ownerKey(im.owners.id(o), t.rest(i)))
	})
}

// each calls fn for every row of table with the row's owner and the rest of its key, which
// is only valid during the call; fn must not change the image.
func (im *image) each(table string, fn func(owner string, rest []byte)) {
	var last uint32 = freeOwner
	var owner string
	im.walk(table, func(t *tableImage, o uint32, i int32) {
		if o != last {
			last, owner = o, string(im.owners.id(o))
		}
		fn(owner, t.rest(i))
	})
}

// walk calls fn for every record of table, owner by owner.
func (im *image) walk(table string, fn func(t *tableImage, owner uint32, i int32)) {
	t := im.tables[table]
	if t == nil {
		return
	}
	for o, h := range t.heads {
		for i := h; i != none; i = t.recs[i].next {
			fn(t, uint32(o), i)
		}
	}
}

// markSeen marks the row with this key as seen by the running full scan without changing
// it (a lookup confirmed it).
func (im *image) markSeen(table string, key []byte) {
	if t, i, err := im.lookup(table, key); err == nil && i != none {
		t.recs[i].gen = im.gen
	}
}

// rows returns the number of rows held for table.
func (im *image) rows(table string) int {
	if t := im.tables[table]; t != nil {
		return t.rows
	}
	return 0
}

// ownerCount returns the number of distinct owners with rows in any table.
func (im *image) ownerCount() int { return im.owners.live }

// compact rewrites the byte arenas without the keys of removed rows and owners, once they
// have come to hold more dead bytes than live ones.
func (im *image) compact() {
	for _, t := range im.tables {
		if t.dead > len(t.arena)/2 {
			t.compact()
		}
	}
	if im.owners.dead > len(im.owners.arena)/2 {
		im.owners.compact()
	}
}
