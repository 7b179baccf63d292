package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
)

// Option configures a Sink.
type Option func(*Sink)

// Schema is the PostgreSQL schema the sink creates and writes its tables in. Default
// "keycdc".
func Schema(name string) Option { return func(s *Sink) { s.schema = name } }

// Tables are the catalogue tables New creates up front, so that queries find them even
// before their first row. Others are created when their first record arrives. Default:
// every table.
func Tables(ts ...*schemas.Table) Option { return func(s *Sink) { s.create = ts } }

// Logger receives operator logs: tables created and columns added. Default: discard.
func Logger(l *slog.Logger) Option { return func(s *Sink) { s.log = l } }

// BeforeCommit makes every Apply call fn after it has written the whole batch and before
// it commits; an error from fn rolls the batch back and Apply returns it, wrapped. It
// exists for fault-injection tests (sinktest). Default: none.
func BeforeCommit(fn func(context.Context) error) Option {
	return func(s *Sink) { s.beforeCommit = fn }
}

// Sink loads batches into PostgreSQL: rows, dead letters and positions of a batch in one
// transaction. It implements sinks.Sink, sinks.OffsetStore and sinks.DeadLetterCounter.
// A Sink is safe for concurrent use, though the Runner applies one batch at a time;
// several Sinks (in several processes) may write to the same schema.
type Sink struct {
	pool         *pgxpool.Pool
	schema       string
	create       []*schemas.Table
	log          *slog.Logger
	beforeCommit func(context.Context) error

	mu     sync.Mutex
	tables map[string]*table // by table name; replaced, never modified, after DDL
	// modes holds, per table, how its next batch is written, learnt from its last one
	// (see upsert).
	modes map[string]mode
}

// New creates (if needed) the schema, the offsets and dead-letter tables and the tables of
// the catalogue, and returns a Sink writing through pool, which the caller owns and closes.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Sink, error) {
	s := &Sink{pool: pool, schema: "keycdc", create: schemas.Tables(), log: slog.New(slog.DiscardHandler),
		modes: map[string]mode{}}
	for _, o := range opts {
		o(s)
	}
	if pool == nil {
		return nil, errors.New("postgres sink: a connection pool is required")
	}
	if s.schema == "" || len(s.schema) > maxIdentifier || !utf8.ValidString(s.schema) || strings.ContainsRune(s.schema, 0) {
		return nil, fmt.Errorf("postgres sink: schema name %q: want 1 to %d bytes of UTF-8 without NUL", s.schema, maxIdentifier)
	}
	if err := s.createSchema(ctx, s.create); err != nil {
		return nil, fmt.Errorf("postgres sink: %w", err)
	}
	return s, nil
}

// Offsets returns the stored next offsets of group for the partitions of topics.
func (s *Sink) Offsets(ctx context.Context, group string, topics []string) (map[sinks.TopicPartition]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT topic, "partition", next_offset FROM `+ident(s.schema, offsetsTable)+
		` WHERE "group" = $1 AND topic = ANY($2::text[])`, group, topics)
	if err != nil {
		return nil, fmt.Errorf("postgres sink: read offsets of group %q: %w", group, err)
	}
	out := map[sinks.TopicPartition]int64{}
	var tp sinks.TopicPartition
	var next int64
	_, err = pgx.ForEachRow(rows, []any{&tp.Topic, &tp.Partition, &next}, func() error {
		out[tp] = next
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres sink: read offsets of group %q: %w", group, err)
	}
	return out, nil
}

// DeadLetters counts the rows of the dead-letter table for group.
func (s *Sink) DeadLetters(ctx context.Context, group string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+ident(s.schema, deadLettersTable)+` WHERE "group" = $1`, group).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres sink: count dead letters of group %q: %w", group, err)
	}
	return n, nil
}

// plan is what one table gets from a batch.
type plan struct {
	t       *table
	upserts []int // indexes into Batch.Changes
	deletes []int
}

// Apply writes the last change of every row of b (an upsert or a delete), its dead letters
// and its positions in one transaction. Changes that can never be stored are refused all
// together with a *sinks.RejectError before anything is written; a column a record
// carries that its table lacks is added first (in a transaction of its own).
func (s *Sink) Apply(ctx context.Context, b sinks.Batch) error {
	latest := b.Latest()
	if err := s.ensureTables(ctx, b, latest); err != nil {
		return fmt.Errorf("postgres sink: %w", err)
	}
	added, rejects := s.check(b, latest)
	if len(rejects) > 0 {
		return &sinks.RejectError{Rejects: rejects}
	}
	if len(added) > 0 {
		if err := s.addColumns(ctx, added); err != nil {
			return fmt.Errorf("postgres sink: %w", err)
		}
	}
	s.mu.Lock()
	tables := s.tables
	s.mu.Unlock()
	plans := map[string]*plan{}
	for _, i := range latest {
		c := b.Changes[i]
		p := plans[c.Table.Name()]
		if p == nil {
			p = &plan{t: tables[c.Table.Name()]}
			plans[c.Table.Name()] = p
		}
		if c.Value == nil {
			p.deletes = append(p.deletes, i)
		} else {
			p.upserts = append(p.upserts, i)
		}
	}
	if err := s.write(ctx, b, plans); err != nil {
		return fmt.Errorf("postgres sink: %w", err)
	}
	return nil
}

// ensureTables creates the tables of the batch that do not exist yet.
func (s *Sink) ensureTables(ctx context.Context, b sinks.Batch, latest []int) error {
	s.mu.Lock()
	var missing []*schemas.Table
	for _, i := range latest {
		t := b.Changes[i].Table
		if s.tables[t.Name()] == nil && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	return s.createSchema(ctx, missing)
}

// newColumn is a column some change needs added.
type newColumn struct {
	table, column string
	typ           schemas.ColumnType
}

// check validates the latest changes against the tables: it returns the columns to add
// and the changes that can never be stored, with the reasons.
func (s *Sink) check(b sinks.Batch, latest []int) ([]newColumn, []sinks.Reject) {
	s.mu.Lock()
	tables := s.tables
	s.mu.Unlock()
	added := map[[2]string]schemas.ColumnType{}
	var order []newColumn
	var rejects []sinks.Reject
	for _, i := range latest {
		c := b.Changes[i]
		t := tables[c.Table.Name()]
		var mine map[[2]string]schemas.ColumnType // new columns of this change, rarely any
		reason := checkChange(t, c, func(col string, ct schemas.ColumnType) string {
			k := [2]string{t.name, col}
			if have, ok := added[k]; ok && have != ct {
				return fmt.Sprintf("column %s is a %s in this record, a %s in another record of the batch", col, ct, have)
			}
			if mine == nil {
				mine = map[[2]string]schemas.ColumnType{}
			}
			mine[k] = ct
			return ""
		})
		if reason != "" {
			rejects = append(rejects, sinks.Reject{Index: i, Reason: reason})
			continue
		}
		if len(mine) == 0 {
			continue
		}
		for _, k := range slices.SortedFunc(maps.Keys(mine), func(a, b [2]string) int { return cmp.Compare(a[1], b[1]) }) {
			if _, ok := added[k]; !ok {
				added[k] = mine[k]
				order = append(order, newColumn{k[0], k[1], mine[k]})
			}
		}
	}
	return order, rejects
}

// checkChange returns why change c can never be stored in t, or "". newColumn is called
// for each non-null column t lacks, and may return a reason too.
func checkChange(t *table, c sinks.Change, newColumn func(col string, ct schemas.ColumnType) string) string {
	for _, k := range t.catKeys {
		v := c.Key[k]
		if v == nil {
			return fmt.Sprintf("key column %s is missing or null", k)
		}
		if r := checkValue(t, k, v); r != "" {
			return r
		}
	}
	if c.Value == nil {
		return ""
	}
	// The table's own columns first, in table order; then, only if the record has more
	// (a newer writer's), those in name order. Most records take only the first loop.
	known := 0
	for _, col := range t.written {
		v, ok := c.Value[col.name]
		if !ok {
			continue
		}
		known++
		if col.name == realmColumn {
			return fmt.Sprintf("the record has a column named %s, which the sink reserves for the realm", realmColumn)
		}
		if v == nil || col.key {
			continue // null fits any column; key columns come from the key
		}
		if r := checkValue(t, col.name, v); r != "" {
			return r
		}
	}
	if known == len(c.Value) {
		return ""
	}
	for _, col := range slices.Sorted(maps.Keys(c.Value)) {
		if t.foreign[col] && c.Value[col] != nil {
			return fmt.Sprintf("column %s exists in PostgreSQL but keycdc did not create it, so the sink does not write it", col)
		}
		if t.has(col) {
			continue
		}
		switch {
		case len(col) > maxIdentifier:
			return fmt.Sprintf("column name %.20s… is longer than PostgreSQL's %d bytes", col, maxIdentifier)
		case !validName(col):
			return fmt.Sprintf("column name %q is not an Avro name", col)
		}
		v := c.Value[col]
		if v == nil {
			continue // added when a value shows up
		}
		ct, ok := columnTypeOf(v)
		if !ok {
			return fmt.Sprintf("column %s holds a %T, which the sink cannot store", col, v)
		}
		if r := newColumn(col, ct); r != "" {
			return r
		}
		if r := checkValue(t, col, v); r != "" {
			return r
		}
	}
	return ""
}

// checkValue returns why v cannot be stored in column col of t (or in a new column when t
// lacks it), or "".
func checkValue(t *table, col string, v any) string {
	ct, ok := columnTypeOf(v)
	if !ok {
		return fmt.Sprintf("column %s holds a %T, which the sink cannot store", col, v)
	}
	if want, ok := t.fit[col]; ok && want != ct {
		return fmt.Sprintf("column %s is %s in PostgreSQL, the record holds a %s", col, t.types[col], ct)
	}
	switch x := v.(type) {
	case string:
		if r := checkText(x); r != "" {
			return fmt.Sprintf("column %s: %s", col, r)
		}
	case map[string]string:
		for k, e := range x {
			if r := cmp.Or(checkText(k), checkText(e)); r != "" {
				return fmt.Sprintf("column %s: a map entry %s", col, r)
			}
		}
	case time.Time:
		// PostgreSQL's range: 4713 BC to 294276 AD.
		if y := x.Year(); y < -4712 || y > 294275 {
			return fmt.Sprintf("column %s: year %d is outside PostgreSQL's timestamp range", col, y)
		}
	}
	return ""
}

// checkText returns why PostgreSQL's text (and jsonb) cannot hold s, or "".
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "holds a NUL character, which PostgreSQL text cannot"
	}
	return ""
}

// validName reports whether s is an Avro name: [A-Za-z_][A-Za-z0-9_]*.
func validName(s string) bool {
	for i, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}

func (s *Sink) addColumns(ctx context.Context, cols []newColumn) error {
	return s.ddl(ctx, func(tx pgx.Tx) error {
		for _, c := range cols {
			if err := s.addColumn(ctx, tx, c.table, c.column, c.typ); err != nil {
				return err
			}
		}
		return nil
	})
}

func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// write runs the batch's transaction: positions first (which locks them, so a second
// consumer of the same partitions waits here and then finds them moved), then each
// table's upserts and deletes, then the dead letters.
func (s *Sink) write(ctx context.Context, b sinks.Batch, plans map[string]*plan) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer rollback(tx)
	// Rows and offsets commit together, so a commit that a PostgreSQL crash loses is lost
	// with its offsets, and the records are loaded again: no reason to wait for the WAL
	// flush. (A commit that made it is never undone.)
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return fmt.Errorf("set synchronous_commit: %w", err)
	}
	done, err := s.advance(ctx, tx, b)
	if err != nil || done {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(plans)) {
		p := plans[name]
		if err := s.upsert(ctx, tx, p, b); err != nil {
			return fmt.Errorf("upsert %d rows into %s: %w", len(p.upserts), ident(s.schema, p.t.name), err)
		}
		if err := s.delete(ctx, tx, p, b); err != nil {
			return fmt.Errorf("delete %d rows from %s: %w", len(p.deletes), ident(s.schema, p.t.name), err)
		}
	}
	if err := s.insertDeadLetters(ctx, tx, b); err != nil {
		return fmt.Errorf("insert %d dead letters: %w", len(b.DeadLetters), err)
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(ctx); err != nil {
			return fmt.Errorf("before commit: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// advance moves every position from Prev to Next. It returns done when the batch was
// already applied (every partition stands at Next), and an error wrapping
// sinks.ErrPositionMoved when a partition stands elsewhere.
func (s *Sink) advance(ctx context.Context, tx pgx.Tx, b sinks.Batch) (done bool, err error) {
	if len(b.Positions) == 0 {
		return false, nil
	}
	pos := slices.SortedFunc(slices.Values(b.Positions), func(a, b sinks.Position) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	table := ident(s.schema, offsetsTable)
	var batch pgx.Batch
	for _, p := range pos {
		if p.Prev < 0 {
			batch.Queue(`INSERT INTO `+table+` ("group", topic, "partition", next_offset) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
				b.Group, p.Topic, p.Partition, p.Next)
		} else {
			batch.Queue(`UPDATE `+table+` SET next_offset = $4, updated_at = now() WHERE "group" = $1 AND topic = $2 AND "partition" = $3 AND next_offset = $5`,
				b.Group, p.Topic, p.Partition, p.Next, p.Prev)
		}
	}
	res := tx.SendBatch(ctx, &batch)
	var moved []sinks.Position
	advanced := 0
	for _, p := range pos {
		tag, err := res.Exec()
		if err != nil {
			res.Close()
			return false, fmt.Errorf("advance offsets: %w", err)
		}
		if tag.RowsAffected() == 1 {
			advanced++
		} else {
			moved = append(moved, p)
		}
	}
	if err := res.Close(); err != nil {
		return false, fmt.Errorf("advance offsets: %w", err)
	}
	if len(moved) == 0 {
		return false, nil
	}
	stored, err := s.storedIn(ctx, tx, b.Group, moved)
	if err != nil {
		return false, err
	}
	if advanced == 0 {
		done = true
		for _, p := range moved {
			if n, ok := stored[p.TopicPartition]; !ok || n != p.Next {
				done = false
			}
		}
		if done {
			return true, nil
		}
	}
	p := moved[0]
	n, ok := stored[p.TopicPartition]
	if !ok {
		n = -1
	}
	return false, fmt.Errorf("group %q %s: stored offset %d, the batch was read from %d (%d partitions moved): %w",
		b.Group, p.TopicPartition, n, p.Prev, len(moved), sinks.ErrPositionMoved)
}

// storedIn reads the stored offsets of some partitions in tx.
func (s *Sink) storedIn(ctx context.Context, tx pgx.Tx, group string, pos []sinks.Position) (map[sinks.TopicPartition]int64, error) {
	topics := make([]string, len(pos))
	parts := make([]int32, len(pos))
	for i, p := range pos {
		topics[i], parts[i] = p.Topic, p.Partition
	}
	rows, err := tx.Query(ctx, `SELECT o.topic, o."partition", o.next_offset FROM `+ident(s.schema, offsetsTable)+` o
		JOIN unnest($2::text[], $3::integer[]) AS p(topic, part) ON o.topic = p.topic AND o."partition" = p.part
		WHERE o."group" = $1`, group, topics, parts)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	out := map[sinks.TopicPartition]int64{}
	var tp sinks.TopicPartition
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&tp.Topic, &tp.Partition, &n}, func() error { out[tp] = n; return nil }); err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	return out, nil
}

// mode is how a table's upserts are written.
type mode int

const (
	// allNew: copy the batch straight into the table, under a savepoint; if a key exists
	// already, roll back to the savepoint and look the keys up. For a table whose last
	// batch had only new rows: events, and every table while a realm is loaded.
	allNew mode = iota
	// mixed: look the keys up, copy the new rows straight into the table and merge the
	// others.
	mixed
	// allExisting: merge the whole batch, which inserts the rows that turn out to be new.
	// For a table whose last batch had only existing rows: updates and replays.
	allExisting
)

// modeAfter is the mode for a table's next batch after one with n rows, of which
// inserted were new.
func modeAfter(n, inserted int) mode {
	switch inserted {
	case n:
		return allNew
	case 0:
		return allExisting
	}
	return mixed
}

// upsert writes the table's upserted rows: new rows are copied straight into the table,
// rows whose key exists already are copied into the table's staging table and merged
// with one INSERT ... ON CONFLICT DO UPDATE that leaves equal rows untouched (no new row
// version for a replayed record). Which rows are new is known from the table's last
// batch (see mode) or found by looking the keys up. A row another writer inserts between
// the look-up and the copy fails the batch, which is then retried and merged.
func (s *Sink) upsert(ctx context.Context, tx pgx.Tx, p *plan, b sinks.Batch) error {
	if len(p.upserts) == 0 {
		return nil
	}
	t := p.t
	rows := make([][]any, len(p.upserts))
	for j, i := range p.upserts {
		c := b.Changes[i]
		row := make([]any, len(t.written))
		for k, col := range t.written {
			switch {
			case col.name == realmColumn:
				row[k] = c.Realm
			case col.key:
				row[k] = c.Key[col.name]
			default:
				row[k] = c.Value[col.name]
			}
			if m, ok := row[k].(map[string]string); ok {
				row[k] = jsonObject(m)
			}
		}
		rows[j] = row
	}
	s.mu.Lock()
	m := s.modes[t.name]
	s.mu.Unlock()
	setMode := func(m mode) {
		s.mu.Lock()
		s.modes[t.name] = m
		s.mu.Unlock()
	}
	switch m {
	case allNew:
		copied, err := s.copyNew(ctx, tx, t, rows)
		if err != nil || copied {
			return err
		}
	case allExisting:
		inserted, err := s.merge(ctx, tx, t, rows)
		if err != nil {
			return err
		}
		setMode(modeAfter(len(rows), inserted))
		return nil
	}
	exists, err := s.existing(ctx, tx, t, b, p.upserts)
	if err != nil {
		return fmt.Errorf("look up keys: %w", err)
	}
	var fresh, known [][]any
	for j, row := range rows {
		if exists[j] {
			known = append(known, row)
		} else {
			fresh = append(fresh, row)
		}
	}
	setMode(modeAfter(len(rows), len(fresh)))
	if len(fresh) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{s.schema, t.name}, t.columns, pgx.CopyFromRows(fresh)); err != nil {
			return fmt.Errorf("copy %d new rows: %w", len(fresh), err)
		}
	}
	if len(known) > 0 {
		if _, err := s.merge(ctx, tx, t, known); err != nil {
			return err
		}
	}
	return nil
}

// merge copies rows into the table's staging table and merges them into the table,
// returning how many were inserted (not there before).
func (s *Sink) merge(ctx context.Context, tx pgx.Tx, t *table, rows [][]any) (inserted int, err error) {
	stage := t.stage()
	defs := make([]string, len(t.columns))
	for k, col := range t.columns {
		defs[k] = ident(col) + " " + t.types[col]
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE IF NOT EXISTS `+ident(stage)+` (`+strings.Join(defs, ", ")+
		`) ON COMMIT DELETE ROWS`); err != nil {
		return 0, fmt.Errorf("create staging table: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stage}, t.columns, pgx.CopyFromRows(rows)); err != nil {
		return 0, fmt.Errorf("copy %d rows into the staging table: %w", len(rows), err)
	}
	cols := make([]string, len(t.columns))
	var set, old, excluded []string
	for k, col := range t.columns {
		cols[k] = ident(col)
		if !t.isKey(col) {
			set = append(set, ident(col)+" = EXCLUDED."+ident(col))
			cast := ""
			if t.types[col] == "json" { // json has no equality operator
				cast = "::text"
			}
			old = append(old, "t."+ident(col)+cast)
			excluded = append(excluded, "EXCLUDED."+ident(col)+cast)
		}
	}
	keys := make([]string, len(t.keys))
	for k, col := range t.keys {
		keys[k] = ident(col)
	}
	list := strings.Join(cols, ", ")
	q := `INSERT INTO ` + ident(s.schema, t.name) + ` AS t (` + list + `) SELECT ` + list + ` FROM ` + ident(stage) +
		` ON CONFLICT (` + strings.Join(keys, ", ") + `) DO `
	if len(set) == 0 {
		q += `NOTHING`
	} else {
		q += `UPDATE SET ` + strings.Join(set, ", ") + ` WHERE (` + strings.Join(old, ", ") + `) IS DISTINCT FROM (` +
			strings.Join(excluded, ", ") + `)`
	}
	// A row version with xmax 0 was inserted, not updated.
	q = `WITH merged AS (` + q + ` RETURNING t.xmax = 0 AS inserted) SELECT count(*) FILTER (WHERE inserted) FROM merged`
	if err := tx.QueryRow(ctx, q).Scan(&inserted); err != nil {
		return 0, fmt.Errorf("merge %d rows: %w", len(rows), err)
	}
	return inserted, nil
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// copyNew copies rows straight into the table under a savepoint. It reports false, with
// the transaction as it was before, when a row's key exists already.
func (s *Sink) copyNew(ctx context.Context, tx pgx.Tx, t *table, rows [][]any) (bool, error) {
	if _, err := tx.Exec(ctx, `SAVEPOINT keycdc_copy`); err != nil {
		return false, err
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{s.schema, t.name}, t.columns, pgx.CopyFromRows(rows))
	var pe *pgconn.PgError
	switch {
	case err == nil:
		_, err = tx.Exec(ctx, `RELEASE SAVEPOINT keycdc_copy`)
		return err == nil, err
	case errors.As(err, &pe) && pe.Code == uniqueViolation:
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT keycdc_copy`); err != nil {
			return false, err
		}
		return false, nil
	}
	return false, fmt.Errorf("copy %d rows: %w", len(rows), err)
}

// keyList is the keys of some changes of a table as arrays, one per key column (realm
// first), for unnest: the arguments, the unnest call and the condition joining its
// columns (d.k0, d.k1, ...) to the table's (t.realm, ...).
func keyList(t *table, b sinks.Batch, idx []int) (args []any, unnest, match string) {
	args = make([]any, len(t.keys))
	var params, names, conds []string
	for k, col := range t.keys {
		vals := make([]any, len(idx))
		for j, i := range idx {
			c := b.Changes[i]
			if col == realmColumn {
				vals[j] = c.Realm
			} else {
				vals[j] = c.Key[col]
			}
		}
		args[k] = vals
		params = append(params, fmt.Sprintf("$%d::%s[]", k+1, t.types[col]))
		names = append(names, fmt.Sprintf("k%d", k))
		conds = append(conds, fmt.Sprintf("t.%s = d.k%d", ident(col), k))
	}
	return args, "unnest(" + strings.Join(params, ", ") + ") WITH ORDINALITY AS d(" + strings.Join(names, ", ") + ", n)",
		strings.Join(conds, " AND ")
}

// existing reports which of the changes idx have a row in the table already.
func (s *Sink) existing(ctx context.Context, tx pgx.Tx, t *table, b sinks.Batch, idx []int) ([]bool, error) {
	args, unnest, match := keyList(t, b, idx)
	rows, err := tx.Query(ctx, `SELECT d.n FROM `+unnest+` JOIN `+ident(s.schema, t.name)+` AS t ON `+match, args...)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(idx))
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&n}, func() error {
		if n < 1 || n > int64(len(out)) {
			return fmt.Errorf("ordinal %d out of range", n)
		}
		out[n-1] = true
		return nil
	})
	return out, err
}

// delete deletes the table's deleted rows, by key, in one statement.
func (s *Sink) delete(ctx context.Context, tx pgx.Tx, p *plan, b sinks.Batch) error {
	if len(p.deletes) == 0 {
		return nil
	}
	args, unnest, match := keyList(p.t, b, p.deletes)
	_, err := tx.Exec(ctx, `DELETE FROM `+ident(s.schema, p.t.name)+` AS t USING `+unnest+` WHERE `+match, args...)
	return err
}

// insertDeadLetters stores the batch's dead letters; one already stored for the same
// group, partition and offset is kept as it is.
func (s *Sink) insertDeadLetters(ctx context.Context, tx pgx.Tx, b sinks.Batch) error {
	if len(b.DeadLetters) == 0 {
		return nil
	}
	n := len(b.DeadLetters)
	topics, realms, tables, reasons := make([]string, n), make([]*string, n), make([]*string, n), make([]string, n)
	parts, offsets := make([]int32, n), make([]int64, n)
	keys, values := make([][]byte, n), make([][]byte, n)
	for i, d := range b.DeadLetters {
		topics[i], parts[i], offsets[i] = d.Topic, d.Partition, d.Offset
		if d.Realm != "" {
			realms[i] = &d.Realm
		}
		if d.Table != nil {
			name := d.Table.Name()
			tables[i] = &name
		}
		keys[i], values[i] = d.Key, d.Value
		reasons[i] = cleanText(d.Reason)
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+ident(s.schema, deadLettersTable)+
		` ("group", topic, "partition", "offset", realm, table_name, key, value, reason)
		SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::bytea[], $9::text[])
		ON CONFLICT DO NOTHING`, b.Group, topics, parts, offsets, realms, tables, keys, values, reasons)
	return err
}

// cleanText makes s storable as text: invalid UTF-8 and NUL become U+FFFD.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// jsonObject encodes m as a JSON object, without encoding/json's reflection, which showed
// in profiles. Keys are in map order: jsonb stores objects with its own key order. The
// strings were checked to be valid UTF-8 without NUL.
func jsonObject(m map[string]string) json.RawMessage {
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 6
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for k, v := range m {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
