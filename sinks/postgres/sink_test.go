package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keycdc/keycdc/internal/leakcheck"
	"github.com/keycdc/keycdc/internal/pgtest"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
	"github.com/keycdc/keycdc/sinks/postgres"
	"github.com/keycdc/keycdc/sinks/sinktest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// db is a test schema on the test server.
type db struct {
	pool   *pgxpool.Pool
	schema string
}

func newDB(t testing.TB) *db {
	pool := pgtest.Pool(t)
	return &db{pool: pool, schema: pgtest.Schema(t, pool)}
}

func (d *db) sink(t testing.TB, opts ...postgres.Option) *postgres.Sink {
	t.Helper()
	s, err := postgres.New(ctxFor(t), d.pool, append([]postgres.Option{postgres.Schema(d.schema)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rows reads every catalogue table back.
func (d *db) rows(t testing.TB) sinktest.Rows { return pgtest.Rows(t, d.pool, d.schema, sinktest.Key) }

func (d *db) deadLetters(t testing.TB, group string) []sinks.DeadLetter {
	t.Helper()
	rows, err := d.pool.Query(ctxFor(t), `SELECT topic, "partition", "offset", coalesce(realm, ''), coalesce(table_name, ''), key, value, reason
		FROM `+pgx.Identifier{d.schema, "_keycdc_dead_letters"}.Sanitize()+` WHERE "group" = $1`, group)
	if err != nil {
		t.Fatal(err)
	}
	var out []sinks.DeadLetter
	var dl sinks.DeadLetter
	var table string
	_, err = pgx.ForEachRow(rows, []any{&dl.Topic, &dl.Partition, &dl.Offset, &dl.Realm, &table, &dl.Key, &dl.Value, &dl.Reason}, func() error {
		d := dl
		d.Table, _ = schemas.Lookup(table)
		out = append(out, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store {
		d := newDB(t)
		return sinktest.Store{
			Open: func(t *testing.T, beforeCommit func(context.Context) error) sinks.Sink {
				if beforeCommit == nil {
					return d.sink(t)
				}
				return d.sink(t, postgres.BeforeCommit(beforeCommit))
			},
			Rows:        func(t *testing.T) sinktest.Rows { return d.rows(t) },
			DeadLetters: func(t *testing.T, group string) []sinks.DeadLetter { return d.deadLetters(t, group) },
		}
	})
}

func change(realm string, t *schemas.Table, value schemas.Row) sinks.Change {
	key := schemas.Row{}
	for _, k := range t.KeyColumns() {
		key[k] = value[k]
	}
	return sinks.Change{Source: sinks.Source{Realm: realm, Table: t}, Key: key, Value: value,
		TopicPartition: sinks.TopicPartition{Topic: "t." + t.Name(), Partition: 0}}
}

func user(id string) schemas.Row {
	return schemas.Row{"id": id, "username": "user " + id, "email": nil, "first_name": "F", "last_name": nil,
		"enabled": true, "email_verified": false, "created_timestamp": time.UnixMilli(1_700_000_000_123).UTC(),
		"service_account_client_id": nil, "federation_link": nil}
}

// TestRejects checks that values PostgreSQL cannot hold are refused up front, with the
// index of the change and a reason that shows no data, and that nothing is written.
func TestRejects(t *testing.T) {
	d := newDB(t)
	s := d.sink(t)
	with := func(id, col string, v any) schemas.Row {
		u := user(id)
		u[col] = v
		return u
	}
	ok1 := change("acme", schemas.User, user("ok-1"))
	for _, tc := range []struct {
		name   string
		bad    []sinks.Change
		reason string
	}{
		{"NUL in text", []sinks.Change{change("acme", schemas.User, with("u1", "username", "a\x00secret"))}, "NUL"},
		{"invalid UTF-8", []sinks.Change{change("acme", schemas.User, with("u1", "email", "\xff\xfesecret"))}, "UTF-8"},
		{"NUL in a map", []sinks.Change{change("acme", schemas.Event, schemas.Row{"id": "e1", "time": time.Now().UTC(),
			"type": "LOGIN", "details": map[string]string{"k": "v\x00secret"}})}, "NUL"},
		{"year out of range", []sinks.Change{change("acme", schemas.User, with("u1", "created_timestamp", time.UnixMilli(1<<62).UTC()))}, "timestamp range"},
		{"type conflict", []sinks.Change{change("acme", schemas.User, with("u1", "enabled", "yes"))}, "boolean in PostgreSQL"},
		{"reserved column", []sinks.Change{change("acme", schemas.User, with("u1", "realm", "other"))}, "reserves"},
		{"null key", []sinks.Change{{Source: sinks.Source{Realm: "acme", Table: schemas.User}, Key: schemas.Row{"id": nil}}}, "key column id"},
		{"long column name", []sinks.Change{change("acme", schemas.User, with("u1", strings.Repeat("x", 64), "v"))}, "longer than"},
		{"new column of two types", []sinks.Change{change("acme", schemas.User, with("u1", "added", "text")),
			change("acme", schemas.User, with("u2", "added", int64(1)))}, "another record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sinks.Batch{Group: "g", Changes: append([]sinks.Change{ok1}, tc.bad...)}
			err := s.Apply(ctxFor(t), b)
			var rej *sinks.RejectError
			if !errors.As(err, &rej) {
				t.Fatalf("Apply returned %v, want a RejectError", err)
			}
			last := rej.Rejects[len(rej.Rejects)-1]
			if last.Index != len(b.Changes)-1 || !strings.Contains(last.Reason, tc.reason) {
				t.Fatalf("rejects %+v, want change %d rejected for %q", rej.Rejects, len(b.Changes)-1, tc.reason)
			}
			for _, r := range rej.Rejects {
				if r.Index == 0 {
					t.Fatalf("the valid change was rejected: %+v", r)
				}
				if strings.Contains(r.Reason, "secret") {
					t.Fatalf("the reason shows the value: %q", r.Reason)
				}
			}
			if n := len(d.rows(t)["acme"]["user"]); n != 0 {
				t.Fatalf("a rejected batch wrote %d rows", n)
			}
		})
	}
	var n int
	if err := d.pool.QueryRow(ctxFor(t), `SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'added'`,
		d.schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a rejected batch added a column (%d, %v)", n, err)
	}
}

// TestLayout checks the tables New creates: types, keys, comments, and columns added for
// a newer writer's fields and for catalogue columns an older keycdc did not create.
func TestLayout(t *testing.T) {
	d := newDB(t)
	ctx := ctxFor(t)
	// A user table as an older keycdc might have left it, without federation_link.
	if _, err := d.pool.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s; CREATE TABLE %[1]s."user" (realm text NOT NULL, id text NOT NULL,
		username text, PRIMARY KEY (realm, id))`, pgx.Identifier{d.schema}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	s := d.sink(t)
	types := func(table string) map[string]string {
		rows, err := d.pool.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, d.schema, table)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		var c, ty string
		if _, err := pgx.ForEachRow(rows, []any{&c, &ty}, func() error { out[c] = ty; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tab := range schemas.Tables() {
		got := types(tab.Name())
		if got["realm"] != "text" {
			t.Errorf("%s.realm is %q", tab.Name(), got["realm"])
		}
		for _, c := range tab.Columns() {
			want := map[schemas.ColumnType]string{schemas.TypeString: "text", schemas.TypeBoolean: "boolean", schemas.TypeLong: "bigint",
				schemas.TypeTimestamp: "timestamp with time zone", schemas.TypeStringMap: "jsonb"}[c.Type]
			if got[c.Name] != want {
				t.Errorf("%s.%s is %q, want %q", tab.Name(), c.Name, got[c.Name], want)
			}
		}
	}
	var pk string
	if err := d.pool.QueryRow(ctx, `SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum))
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = ($1 || '.user_client_role')::regclass AND i.indisprimary`, pgx.Identifier{d.schema}.Sanitize()).Scan(&pk); err != nil {
		t.Fatal(err)
	}
	if pk != "realm,user_id,client_id,role_name" {
		t.Errorf("primary key of user_client_role is (%s)", pk)
	}
	var comment string
	if err := d.pool.QueryRow(ctx, `SELECT col_description(($1 || '.event')::regclass, 2)`, pgx.Identifier{d.schema}.Sanitize()).Scan(&comment); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(comment, "event") {
		t.Errorf("column comment of event.id: %q", comment)
	}

	// A newer writer's columns are added with the type of their values.
	u := user("u1")
	u["added_text"], u["added_long"], u["added_when"], u["added_map"], u["added_null"] =
		"x", int64(7), time.Now().UTC(), map[string]string{"a": "b"}, nil
	if err := s.Apply(ctx, sinks.Batch{Group: "g", Changes: []sinks.Change{change("acme", schemas.User, u)}}); err != nil {
		t.Fatal(err)
	}
	got := types("user")
	for col, want := range map[string]string{"federation_link": "text", "added_text": "text", "added_long": "bigint",
		"added_when": "timestamp with time zone", "added_map": "jsonb"} {
		if got[col] != want {
			t.Errorf("user.%s is %q, want %q", col, got[col], want)
		}
	}
	if _, ok := got["added_null"]; ok {
		t.Error("a column that was only ever null was added")
	}
	// Another Sink on the same schema sees the added columns.
	u2 := user("u2")
	u2["added_long"] = int64(8)
	if err := d.sink(t).Apply(ctx, sinks.Batch{Group: "g", Changes: []sinks.Change{change("acme", schemas.User, u2)}}); err != nil {
		t.Fatal(err)
	}
	if v := d.rows(t)["acme"]["user"]["u2"]["added_long"]; v != int64(8) {
		t.Errorf("u2.added_long = %v", v)
	}
}

// TestReplayWritesNothing checks that applying rows that are already there creates no new
// row versions: replays and rescans cost reads, not table bloat.
func TestReplayWritesNothing(t *testing.T) {
	d := newDB(t)
	s := d.sink(t)
	ctx := ctxFor(t)
	var cs []sinks.Change
	for i := range 50 {
		cs = append(cs, change("acme", schemas.User, user(fmt.Sprint(i))))
	}
	xmins := func() string {
		var x string
		if err := d.pool.QueryRow(ctx, `SELECT string_agg(xmin::text, ',' ORDER BY id) FROM `+pgx.Identifier{d.schema, "user"}.Sanitize()).Scan(&x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	if err := s.Apply(ctx, sinks.Batch{Group: "g", Changes: cs}); err != nil {
		t.Fatal(err)
	}
	before := xmins()
	if err := s.Apply(ctx, sinks.Batch{Group: "g", Changes: cs}); err != nil {
		t.Fatal(err)
	}
	if after := xmins(); after != before {
		t.Fatal("re-applying equal rows rewrote them")
	}
	cs[3].Value["username"] = "changed"
	if err := s.Apply(ctx, sinks.Batch{Group: "g", Changes: cs}); err != nil {
		t.Fatal(err)
	}
	if xmins() == before {
		t.Fatal("a changed row was not written")
	}
}

// TestConcurrentSinks starts several sinks on one new schema at once, as several sink
// processes would, and has them add the same column at once.
func TestConcurrentSinks(t *testing.T) {
	d := newDB(t)
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			s, err := postgres.New(ctxFor(t), d.pool, postgres.Schema(d.schema))
			if err == nil {
				u := user(fmt.Sprint("c", i))
				u["added"] = "x"
				err = s.Apply(ctxFor(t), sinks.Batch{Group: fmt.Sprint("g", i), Changes: []sinks.Change{change("acme", schemas.User, u)}})
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(d.rows(t)["acme"]["user"]); n != 4 {
		t.Fatalf("%d rows, want 4", n)
	}
}

// TestSecondWriterWaitsAndIsRefused runs two transactions for the same partition at once:
// the second waits for the first and is then refused, so a consumer that lost its
// partitions cannot overwrite its successor's work.
func TestSecondWriterWaitsAndIsRefused(t *testing.T) {
	d := newDB(t)
	entered, release := make(chan struct{}), make(chan struct{})
	first := d.sink(t, postgres.BeforeCommit(func(context.Context) error {
		close(entered)
		<-release
		return nil
	}))
	second := d.sink(t)
	pos := []sinks.Position{{TopicPartition: sinks.TopicPartition{Topic: "t.user", Partition: 0}, Prev: -1, Next: 10}}
	b1 := sinks.Batch{Group: "g", Changes: []sinks.Change{change("acme", schemas.User, user("one"))}, Positions: pos}
	b2 := sinks.Batch{Group: "g", Changes: []sinks.Change{change("acme", schemas.User, user("two"))},
		Positions: []sinks.Position{{TopicPartition: pos[0].TopicPartition, Prev: -1, Next: 12}}}
	done1 := make(chan error, 1)
	go func() { done1 <- first.Apply(ctxFor(t), b1) }()
	<-entered
	done2 := make(chan error, 1)
	go func() { done2 <- second.Apply(ctxFor(t), b2) }()
	// Wait until the second writer waits for the first one's lock on the offset row.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done2:
			t.Fatalf("the second writer did not wait for the first: %v", err)
		default:
		}
		var waiting int
		if err := d.pool.QueryRow(ctxFor(t), `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%' || $1 || '%'`, d.schema).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second writer never waited for a lock")
		}
		time.Sleep(5 * time.Millisecond) // polling for a condition, with the deadline above
	}
	close(release)
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	if err := <-done2; !errors.Is(err, sinks.ErrPositionMoved) {
		t.Fatalf("second writer: %v, want ErrPositionMoved", err)
	}
	rows := d.rows(t)["acme"]["user"]
	if _, ok := rows["two"]; ok || len(rows) != 1 {
		t.Fatalf("rows after a refused second writer: %v", rows)
	}
}

func TestNewErrors(t *testing.T) {
	d := newDB(t)
	if _, err := postgres.New(ctxFor(t), d.pool, postgres.Schema(strings.Repeat("s", 64))); err == nil {
		t.Error("a 64-byte schema name was accepted")
	}
	if _, err := postgres.New(ctxFor(t), nil); err == nil {
		t.Error("a nil pool was accepted")
	}
	// A connection string's password must not appear in errors.
	pool, err := pgxpool.New(ctxFor(t), "postgres://postgres:s3cr3t-pw@127.0.0.1:1/test?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = postgres.New(ctxFor(t), pool)
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Fatalf("New on an unreachable server: %v", err)
	}
}

// TestForeignColumns adds columns of its own to a table, as an operator might: the sink
// leaves them to their defaults and generation expressions, and refuses records that
// would write them.
func TestForeignColumns(t *testing.T) {
	d := newDB(t)
	ctx := ctxFor(t)
	d.sink(t)
	if _, err := d.pool.Exec(ctx, fmt.Sprintf(`ALTER TABLE %[1]s ADD COLUMN loaded_at timestamptz NOT NULL DEFAULT now();
		ALTER TABLE %[1]s ADD COLUMN name_upper text GENERATED ALWAYS AS (upper(username)) STORED`,
		pgx.Identifier{d.schema, "user"}.Sanitize())); err != nil {
		t.Fatal(err)
	}
	s := d.sink(t)
	u := user("u1")
	for _, v := range []string{"first", "second"} { // an insert, then an update
		u["username"] = v
		if err := s.Apply(ctx, sinks.Batch{Group: "g", Changes: []sinks.Change{change("acme", schemas.User, u)}}); err != nil {
			t.Fatal(err)
		}
	}
	var upper string
	var loaded time.Time
	if err := d.pool.QueryRow(ctx, `SELECT name_upper, loaded_at FROM `+pgx.Identifier{d.schema, "user"}.Sanitize()).Scan(&upper, &loaded); err != nil {
		t.Fatal(err)
	}
	if upper != "SECOND" || loaded.IsZero() {
		t.Fatalf("name_upper %q, loaded_at %v", upper, loaded)
	}
	u["loaded_at"] = time.Now().UTC()
	var rej *sinks.RejectError
	if err := s.Apply(ctx, sinks.Batch{Group: "g", Changes: []sinks.Change{change("acme", schemas.User, u)}}); !errors.As(err, &rej) {
		t.Fatalf("a record writing the operator's column: %v, want a RejectError", err)
	}
}

// TestWriteModes runs batches of new, existing and mixed rows in an order that takes a
// table through every way of writing upserts (copy, look-up and copy, merge) and every
// change between them, checking the rows after each batch.
func TestWriteModes(t *testing.T) {
	d := newDB(t)
	s := d.sink(t)
	ctx := ctxFor(t)
	want := map[string]schemas.Row{}
	version := 0
	batch := func(ids ...int) {
		t.Helper()
		version++
		var cs []sinks.Change
		for _, i := range ids {
			u := user(fmt.Sprint(i))
			u["last_name"] = fmt.Sprint("v", version)
			cs = append(cs, change("acme", schemas.User, u))
			want[fmt.Sprint(i)] = u
		}
		if err := s.Apply(ctx, sinks.Batch{Group: "g", Changes: cs}); err != nil {
			t.Fatal(err)
		}
		if diff := sinktest.Diff(sinktest.Rows{"acme": {"user": want}}, d.rows(t), []*schemas.Table{schemas.User}); diff != "" {
			t.Fatalf("after batch %d (%v):\n%s", version, ids, diff)
		}
	}
	batch(1, 2, 3)    // new: copied
	batch(4, 5)       // new again: copied
	batch(1, 2)       // existing: the copy fails, the look-up finds them, merged
	batch(3, 4)       // existing: merged
	batch(6, 7)       // new, while merging: merged, inserting them
	batch(8, 9)       // new: copied
	batch(1, 10)      // mixed: the copy fails, looked up, one copied, one merged
	batch(2, 11, 12)  // mixed: looked up
	batch(13)         // new: looked up, copied
	batch(14, 15, 16) // new: copied
}
