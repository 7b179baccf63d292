package sinktest

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
	"github.com/keycdc/keycdc/topics"
)

// Rows is what a store holds: realm → table name → Key of the row → row. A row holds the
// columns the store keeps; absent and null columns compare equal.
type Rows map[string]map[string]map[string]schemas.Row

// Key is the canonical key of a row of t, as Rows uses it: its key columns in key order,
// each printed with fmt.Sprint, joined by U+001F.
func Key(t *schemas.Table, row schemas.Row) string {
	var b strings.Builder
	for i, c := range t.KeyColumns() {
		if i > 0 {
			b.WriteByte(0x1f)
		}
		fmt.Fprint(&b, row[c])
	}
	return b.String()
}

// Put stores row (which holds t's key columns) under realm and t.
func (r Rows) Put(realm string, t *schemas.Table, row schemas.Row) {
	ts := r[realm]
	if ts == nil {
		ts = map[string]map[string]schemas.Row{}
		r[realm] = ts
	}
	rows := ts[t.Name()]
	if rows == nil {
		rows = map[string]schemas.Row{}
		ts[t.Name()] = rows
	}
	rows[Key(t, row)] = row
}

// apply folds a change into r: what a sink must end up holding.
func (r Rows) apply(c sinks.Change) {
	if c.Value == nil {
		delete(r[c.Realm][c.Table.Name()], Key(c.Table, c.Key))
		return
	}
	r.Put(c.Realm, c.Table, c.Value)
}

// fold returns the rows that changes (in order) leave behind.
func fold(changes []sinks.Change) Rows {
	r := Rows{}
	for _, c := range changes {
		r.apply(c)
	}
	return r
}

// diff describes how got differs from want, table by table; "" means equal. Only the
// tables in tables are compared, and rows are projected on cols when it is not nil.
func diff(want, got Rows, tables []*schemas.Table, project func(*schemas.Table, schemas.Row) schemas.Row) string {
	realms := map[string]bool{}
	for r := range want {
		realms[r] = true
	}
	for r := range got {
		realms[r] = true
	}
	names := make([]string, 0, len(realms))
	for r := range realms {
		names = append(names, r)
	}
	sort.Strings(names)
	var out string
	for _, realm := range names {
		for _, t := range tables {
			w, g := want[realm][t.Name()], got[realm][t.Name()]
			if project != nil {
				w, g = projectAll(t, w, project), projectAll(t, g, project)
			}
			if d := diffTable(realm+"."+t.Name(), w, g, 5); d != "" {
				out += d + "\n"
			}
		}
	}
	return out
}

func projectAll(t *schemas.Table, rows map[string]schemas.Row, f func(*schemas.Table, schemas.Row) schemas.Row) map[string]schemas.Row {
	out := make(map[string]schemas.Row, len(rows))
	for k, r := range rows {
		out[k] = f(t, r)
	}
	return out
}

// catalogueColumns keeps the columns of t's current schema.
func catalogueColumns(t *schemas.Table, r schemas.Row) schemas.Row {
	out := schemas.Row{}
	for _, c := range t.Columns() {
		out[c.Name] = r[c.Name]
	}
	return out
}

// generator makes random but reproducible changes: upserts and deletes of a small pool of
// keys per realm and table, so that rows are updated, deleted and inserted again, with
// values chosen to trip up escaping, encodings and type mappings.
type generator struct {
	rng    *rand.Rand
	realms []string
	tables []*schemas.Table
	keys   int // keys per realm and table
	live   map[string]bool
}

func newGenerator(seed uint64, realms []string, tables []*schemas.Table, keys int) *generator {
	return &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), realms: realms, tables: tables, keys: keys,
		live: map[string]bool{}}
}

// awkward strings: quoting, escaping and COPY's text format markers, non-ASCII, empty.
var awkward = []string{"", "plain", "O'Brien", `quote"d`, `back\slash`, `\N`, "tab\there", "new\nline", "comma,semi;colon",
	"müller", "björn chloé josé", "日本語", "emoji 🙂", "  spaced  ", "NULL", "null", "{}", `{"a":1}`, "%s %d", "a|b"}

func (g *generator) str() string {
	if g.rng.IntN(3) == 0 {
		return awkward[g.rng.IntN(len(awkward))]
	}
	return fmt.Sprintf("v%d", g.rng.IntN(1_000_000))
}

func (g *generator) value(c schemas.Column) any {
	if c.Optional && g.rng.IntN(5) == 0 {
		return nil
	}
	switch c.Type {
	case schemas.TypeString:
		return g.str()
	case schemas.TypeBoolean:
		return g.rng.IntN(2) == 0
	case schemas.TypeLong:
		return []int64{0, -1, 1, math.MaxInt64, math.MinInt64, g.rng.Int64(), -g.rng.Int64N(1 << 40)}[g.rng.IntN(7)]
	case schemas.TypeTimestamp:
		// From 1900 to 2100, to the millisecond: what timestamp-millis holds.
		return time.UnixMilli(g.rng.Int64N(6_311_390_400_000) - 2_208_988_800_000).UTC()
	case schemas.TypeStringMap:
		m := map[string]string{}
		for range g.rng.IntN(4) {
			m[g.str()] = g.str()
		}
		return m
	}
	panic("sinktest: unknown column type " + string(c.Type))
}

// keyRow returns key number i of t in realm: every key column gets a value made from i, so
// that keys differ in every column.
func (g *generator) keyRow(t *schemas.Table, i int) schemas.Row {
	k := schemas.Row{}
	types := map[string]schemas.ColumnType{}
	for _, c := range t.Columns() {
		types[c.Name] = c.Type
	}
	for j, name := range t.KeyColumns() {
		switch types[name] {
		case schemas.TypeLong:
			k[name] = int64(i*10 + j)
		case schemas.TypeBoolean:
			k[name] = i%2 == 0
		case schemas.TypeTimestamp:
			k[name] = time.UnixMilli(int64(i) * 1000).UTC()
		default:
			k[name] = fmt.Sprintf("%s-%d-%s", name, i, awkward[(i+j)%len(awkward)])
		}
	}
	return k
}

// upsert returns a full row of t with the given key.
func (g *generator) upsert(t *schemas.Table, key schemas.Row) schemas.Row {
	v := schemas.Row{}
	for _, c := range t.Columns() {
		if kv, ok := key[c.Name]; ok {
			v[c.Name] = kv
			continue
		}
		v[c.Name] = g.value(c)
	}
	return v
}

// next returns a random change: mostly upserts, a delete of a live row one time in five,
// and now and then a delete of a row that does not exist.
func (g *generator) next() sinks.Change {
	realm := g.realms[g.rng.IntN(len(g.realms))]
	t := g.tables[g.rng.IntN(len(g.tables))]
	key := g.keyRow(t, g.rng.IntN(g.keys))
	id := realm + "\x00" + Key(t, key)
	c := sinks.Change{Source: sinks.Source{Realm: realm, Table: t}, Key: key}
	switch n := g.rng.IntN(20); {
	case g.live[id] && n < 4, n == 19:
		delete(g.live, id)
	default:
		c.Value = g.upsert(t, key)
		g.live[id] = true
	}
	return c
}

func (g *generator) changes(n int) []sinks.Change {
	out := make([]sinks.Change, n)
	for i := range out {
		out[i] = g.next()
	}
	return out
}

// feed numbers changes as a consumer of topics would see them: each realm and table has
// its topic (named by topics.Name with prefix "sinktest"), each key its partition, and
// offsets grow per partition. It remembers what a sink should hold for each partition.
type feed struct {
	group      string
	partitions int32
	next       map[sinks.TopicPartition]int64
	stored     map[sinks.TopicPartition]int64
}

func newFeed(group string) *feed {
	return &feed{group: group, partitions: 3, next: map[sinks.TopicPartition]int64{}, stored: map[sinks.TopicPartition]int64{}}
}

func topicOf(realm string, t *schemas.Table) string { return topics.Name("sinktest", realm, t) }

func (f *feed) partitionOf(c sinks.Change) int32 {
	h := fnv.New32a()
	h.Write([]byte(c.Realm))
	h.Write([]byte(Key(c.Table, c.Key)))
	return int32(h.Sum32() % uint32(f.partitions))
}

// batch numbers changes (in place) and dead letters and returns their batch, with Prev
// taken from what the sink should hold.
func (f *feed) batch(changes []sinks.Change, dead ...sinks.DeadLetter) sinks.Batch {
	b := sinks.Batch{Group: f.group, Changes: changes, DeadLetters: dead}
	last := map[sinks.TopicPartition]int64{}
	take := func(tp sinks.TopicPartition) int64 {
		o := f.next[tp]
		f.next[tp] = o + 1
		last[tp] = o
		return o
	}
	for i := range changes {
		c := &changes[i]
		c.TopicPartition = sinks.TopicPartition{Topic: topicOf(c.Realm, c.Table), Partition: f.partitionOf(*c)}
		c.Offset = take(c.TopicPartition)
	}
	for i := range dead {
		d := &dead[i]
		d.TopicPartition = sinks.TopicPartition{Topic: topicOf(d.Realm, d.Table), Partition: 0}
		d.Offset = take(d.TopicPartition)
	}
	for tp, o := range last {
		prev, ok := f.stored[tp]
		if !ok {
			prev = -1
		}
		b.Positions = append(b.Positions, sinks.Position{TopicPartition: tp, Prev: prev, Next: o + 1})
	}
	sort.Slice(b.Positions, func(i, j int) bool {
		a, c := b.Positions[i], b.Positions[j]
		return a.Topic < c.Topic || a.Topic == c.Topic && a.Partition < c.Partition
	})
	return b
}

// committed records that b was applied.
func (f *feed) committed(b sinks.Batch) {
	for _, p := range b.Positions {
		f.stored[p.TopicPartition] = p.Next
	}
}

// encodeRow encodes row as an Avro record body with the given fields of t (all of t's
// columns for a value, its key columns for a key), in the binary encoding keycdc's
// schemas use: optional columns are ["null", T] unions.
func encodeRow(t *schemas.Table, names []string, row schemas.Row) ([]byte, error) {
	cols := map[string]schemas.Column{}
	for _, c := range t.Columns() {
		cols[c.Name] = c
	}
	var b []byte
	for _, name := range names {
		c := cols[name]
		v := row[name]
		if c.Optional {
			if v == nil {
				b = binary.AppendVarint(b, 0)
				continue
			}
			b = binary.AppendVarint(b, 1)
		}
		switch x := v.(type) {
		case string:
			b = appendString(b, x)
		case bool:
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case int64:
			b = binary.AppendVarint(b, x)
		case time.Time:
			b = binary.AppendVarint(b, x.UnixMilli())
		case map[string]string:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(keys) > 0 {
				b = binary.AppendVarint(b, int64(len(keys)))
				for _, k := range keys {
					b = appendString(appendString(b, k), x[k])
				}
			}
			b = binary.AppendVarint(b, 0)
		default:
			return nil, fmt.Errorf("column %s of %s: cannot encode %T", name, t.Name(), v)
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}

// encode returns the Avro bodies of a change's key and value (nil for a delete).
func encode(c sinks.Change) (schemas.Change, error) {
	k, err := encodeRow(c.Table, c.Table.KeyColumns(), c.Key)
	if err != nil {
		return schemas.Change{}, err
	}
	out := schemas.Change{Table: c.Table, Key: k}
	if c.Value != nil {
		names := make([]string, 0, len(c.Table.Columns()))
		for _, col := range c.Table.Columns() {
			names = append(names, col.Name)
		}
		if out.Value, err = encodeRow(c.Table, names, c.Value); err != nil {
			return schemas.Change{}, err
		}
	}
	return out, nil
}

// Diff describes how got differs from want on tables; "" means they are equal.
func Diff(want, got Rows, tables []*schemas.Table) string { return diff(want, got, tables, nil) }

// diffTable compares want with got for one table and describes up to limit differences;
// "" means equal. Rows compare column by column: absent and null are the same, times are
// compared to the millisecond (what timestamp-millis holds).
func diffTable(table string, want, got map[string]schemas.Row, limit int) string {
	var out []string
	add := func(s string) {
		if len(out) < limit {
			out = append(out, s)
		} else if len(out) == limit {
			out = append(out, "…")
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := got[k]
		switch {
		case !ok:
			add(fmt.Sprintf("%s: missing row %q: %s", table, k, show(want[k])))
		case !sameRow(want[k], g):
			add(fmt.Sprintf("%s: row %q differs:\n  want %s\n  got  %s", table, k, show(want[k]), show(g)))
		}
	}
	extra := make([]string, 0)
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		add(fmt.Sprintf("%s: unexpected row %q: %s", table, k, show(got[k])))
	}
	return strings.Join(out, "\n")
}

func sameRow(a, b schemas.Row) bool {
	for k := range a {
		if !reflect.DeepEqual(normal(a[k]), normal(b[k])) {
			return false
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok && v != nil {
			return false
		}
	}
	return true
}

func normal(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UnixMilli()
	case map[string]string:
		if x == nil {
			return nil
		}
	}
	return v
}

// show prints a row with its columns in name order.
func show(r schemas.Row) string {
	cols := make([]string, 0, len(r))
	for c := range r {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var b strings.Builder
	for _, c := range cols {
		v := normal(r[c])
		if m, ok := v.(map[string]string); ok {
			v = fmt.Sprintf("%q", m) // fmt prints maps in key order
		}
		fmt.Fprintf(&b, "%s=%T:%v; ", c, v, v)
	}
	return b.String()
}
