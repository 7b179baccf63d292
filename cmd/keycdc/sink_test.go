package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/keycdc/keycdc/internal/expected"
	"github.com/keycdc/keycdc/internal/pgtest"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks/postgres"
)

// sinkDB is a PostgreSQL schema of the test server for `keycdc sink postgres`.
type sinkDB struct {
	pool   *pgxpool.Pool
	schema string
	dsn    string
}

func newSinkDB(t *testing.T) *sinkDB {
	t.Helper()
	pool := pgtest.Pool(t)
	return &sinkDB{pool: pool, schema: pgtest.Schema(t, pool), dsn: pgtest.DSN(t)}
}

// sinkConfig writes a configuration for the stack's realms with the sink's sections.
func (s *stack) sinkConfig(db *sinkDB, extra string) string {
	s.t.Helper()
	return s.configWith(nil, "metrics:\n", fmt.Sprintf("postgres:\n  dsn: %s\nsink:\n  schema: %s\n%smetrics:\n", db.dsn, db.schema, extra))
}

// contents reads a realm's rows from the sink's tables, in the form stack.diff compares
// with the twin's truth.
func (db *sinkDB) contents(t *testing.T, realm string) contents {
	t.Helper()
	rows := pgtest.Rows(t, db.pool, db.schema, expected.Key)[realm]
	c := contents{tables: expected.Tables{}, events: rows["event"], adminEvents: rows["admin_event"]}
	for name, r := range rows {
		if name != "event" && name != "admin_event" {
			c.tables[name] = r
		}
	}
	if c.events == nil {
		c.events = map[string]schemas.Row{}
	}
	if c.adminEvents == nil {
		c.adminEvents = map[string]schemas.Row{}
	}
	return c
}

// eventuallyLoaded waits until the sink's tables equal the twin's truth for realm.
func (db *sinkDB) eventuallyLoaded(s *stack, realm string, timeout time.Duration, logs func() string) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := s.diff(realm, db.contents(s.t, realm))
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the sink's tables did not equal realm %s within %v:\n%s\nsink logs:\n%s", realm, timeout, d, logs())
		}
		time.Sleep(50 * time.Millisecond) // polling for a condition, with the deadline above
	}
}

// count runs a count(*) query on one of the sink's tables.
func (db *sinkDB) count(t *testing.T, table, where string, args ...any) int {
	t.Helper()
	var n int
	q := "SELECT count(*) FROM " + pgx.Identifier{db.schema, table}.Sanitize() + " WHERE " + where
	if err := db.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// adminDelete deletes a user through the twin's Admin API, as an administrator would.
func adminDelete(t *testing.T, base, realm, userID string) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin"}}
	resp, err := http.PostForm(base+"/realms/master/protocol/openid-connect/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("admin token: status %d, %v", resp.StatusCode, err)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+"/admin/realms/"+realm+"/users/"+userID, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE user %s: status %d", userID, resp.StatusCode)
	}
}

// runSink runs `keycdc sink postgres` in-process until the returned stop is called, which
// returns its logs and fails the test if it did not stop cleanly.
func runSink(t *testing.T, cfg string) (stop func() string, logs func() string) {
	t.Helper()
	var out, errb syncBuffer
	e := env{stdout: &out, stderr: &errb, lookupEnv: noEnv}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmdSink(ctx, e, []string{"postgres", "--config", cfg}) }()
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("keycdc sink postgres: %v\n%s", err, errb.String())
			}
		}
		return errb.String()
	}
	t.Cleanup(func() { stop() })
	return stop, errb.String
}

// After the pipeline has run on a realm, the sink's tables hold exactly the realm's
// users, memberships, roles and events; a user deleted in Keycloak disappears with every
// row that hangs off it.
func TestSinkPostgresLoadsTheRealm(t *testing.T) {
	s := newStack(t, "26.2", spec("acme", 150, 31))
	db := newSinkDB(t)
	if logs, err := s.runOnce(s.config()); err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	stop, logs := runSink(t, s.sinkConfig(db, "  batch_size: 200\n  batch_age: 20ms\n"))
	db.eventuallyLoaded(s, "acme", 60*time.Second, logs)

	d, err := s.twin.DumpRealm("acme")
	if err != nil {
		t.Fatal(err)
	}
	if n := db.count(t, "user", "realm = 'acme'"); n != len(d.Users) {
		t.Fatalf("%d users in PostgreSQL, the realm has %d", n, len(d.Users))
	}
	var victim string
	for _, u := range d.Users {
		if len(u.Attributes) > 0 && len(u.RealmRoles) > 0 && len(u.Groups) > 0 && u.ServiceAccountClientID == "" {
			victim = u.ID
			break
		}
	}
	if victim == "" {
		t.Fatal("no user with attributes, realm roles and groups to delete")
	}
	hanging := map[string]string{"user": "id = $1", "user_attribute": "user_id = $1", "user_realm_role": "user_id = $1",
		"group_member": "user_id = $1", "user_client_role": "user_id = $1", "user_required_action": "user_id = $1"}
	for _, table := range []string{"user", "user_attribute", "user_realm_role", "group_member"} {
		if db.count(t, table, hanging[table], victim) == 0 {
			t.Fatalf("before the deletion, %s holds no row of user %s", table, victim)
		}
	}

	adminDelete(t, s.kcSrv.URL, "acme", victim)
	if logs, err := s.runOnce(s.config()); err != nil {
		t.Fatalf("second run: %v\n%s", err, logs)
	}
	db.eventuallyLoaded(s, "acme", 60*time.Second, logs)
	for table, where := range hanging {
		if n := db.count(t, table, where, victim); n != 0 {
			t.Errorf("after the deletion, %s still holds %d rows of user %s", table, n, victim)
		}
	}
	if out := stop(); strings.Contains(strings.ToLower(out), "error") {
		t.Errorf("the sink logged errors:\n%s", out)
	}
}

// committed is a realm's records as a read_committed reader sees them, decoded, with
// their positions.
type committedRecord struct {
	topic     string
	partition int32
	offset    int64
	table     *schemas.Table
	key, val  schemas.Row
}

func (s *stack) committed(realm string) []committedRecord {
	s.t.Helper()
	c := s.read(realm)
	rc, err := sr.NewClient(sr.URLs(s.reg.URL()))
	if err != nil {
		s.t.Fatal(err)
	}
	codec := schemas.NewCodec(rc)
	var out []committedRecord
	for _, r := range c.raw {
		d, err := codec.Decode(context.Background(), r.Topic, r.Key, r.Value)
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, committedRecord{r.Topic, r.Partition, r.Offset, d.Table, d.Key, d.Value})
	}
	return out
}

// checkConsistent checks that the sink's tables hold exactly what the records before its
// stored offsets leave behind: no batch was half applied, none applied twice, none lost.
func (db *sinkDB) checkConsistent(t *testing.T, realm, group string, recs []committedRecord) (stored, ends map[string]map[int32]int64) {
	t.Helper()
	stored = pgtest.Offsets(t, db.pool, db.schema, group)
	ends = map[string]map[int32]int64{}
	want := expected.Tables{}
	for _, r := range recs {
		if ends[r.topic] == nil {
			ends[r.topic] = map[int32]int64{}
		}
		ends[r.topic][r.partition] = max(ends[r.topic][r.partition], r.offset+1)
		if next, ok := stored[r.topic][r.partition]; ok && r.offset < next {
			want.Apply(r.table, r.key, r.val)
		}
	}
	got := pgtest.Rows(t, db.pool, db.schema, expected.Key)[realm]
	for _, tab := range schemas.Tables() {
		if d := expected.Diff(tab.Name(), want[tab.Name()], got[tab.Name()], 5); d != "" {
			t.Fatalf("the sink's rows are not what the records before its stored offsets leave behind:\n%s", d)
		}
	}
	return stored, ends
}

// waitLocked waits until a sink process's transaction waits for a lock.
func (db *sinkDB) waitLocked(t *testing.T, c *child) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'keycdc sink' AND wait_event_type = 'Lock' AND state = 'active'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink never waited for the locked table:\n%s", c.logs.String())
		}
		time.Sleep(10 * time.Millisecond) // polling for a condition, with the deadline above
	}
}

// `keycdc sink postgres` killed with SIGKILL in the middle of batches — while a batch's
// transaction has moved the offsets and written some tables and waits to write the user
// table — and at random moments, then restarted, ends with exactly the realm: no row
// doubled, none missing, and after every kill the tables are exactly what the records
// before the stored offsets leave behind.
func TestSinkPostgresKilledMidBatch(t *testing.T) {
	s := newStack(t, "26.2", spec("acme", 300, 32))
	if logs, err := s.runOnce(s.config()); err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	recs := s.committed("acme")
	db := newSinkDB(t)
	// A password the trust-authenticated server ignores: it must not show in any log.
	db.dsn = strings.Replace(db.dsn, "postgres@", "postgres:pw-in-the-dsn@", 1)
	ctx := context.Background()
	if _, err := postgres.New(ctx, db.pool, postgres.Schema(db.schema)); err != nil { // the tables, to lock one
		t.Fatal(err)
	}
	cfg := s.sinkConfig(db, "  batch_size: 50\n  batch_age: 20ms\n  instance_id: sink-under-test\n")
	const group = "keycdc-sink-postgres"
	var logs strings.Builder
	progress := 0
	for i := range 3 {
		conn, err := db.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{db.schema, "user"}.Sanitize()+" IN SHARE MODE"); err != nil {
			t.Fatal(err)
		}
		before := pgtest.Offsets(t, db.pool, db.schema, group)
		c := startChild(t, "sink", "postgres", "--config", cfg)
		db.waitLocked(t, c)
		c.kill()
		logs.WriteString(c.logs.String())
		tx.Rollback(ctx)
		conn.Release()
		stored, _ := db.checkConsistent(t, "acme", group, recs)
		if !maps.EqualFunc(before, stored, maps.Equal) {
			progress++
		}
		t.Logf("kill %d: in the middle of a batch; %d partitions stored", i+1, len(stored))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3 {
		c := startChild(t, "sink", "postgres", "--config", cfg)
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond) // a random moment, not a condition
		c.kill()
		logs.WriteString(c.logs.String())
		db.checkConsistent(t, "acme", group, recs)
		t.Logf("kill %d: at a random moment", i+4)
	}
	c := startChild(t, "sink", "postgres", "--config", cfg)
	db.eventuallyLoaded(s, "acme", 60*time.Second, c.logs.String)
	// The earlier runs may have loaded every row already: wait for this one to store the
	// ends of the partitions too.
	for deadline := time.Now().Add(60 * time.Second); ; {
		if stored, ends := db.checkConsistent(t, "acme", group, recs); maps.EqualFunc(stored, ends, maps.Equal) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink did not store the ends of the partitions within 60s:\n%s", c.logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polling for a condition, with the deadline above
	}
	if err := c.terminate(t, "sink started"); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, c.logs.String())
	}
	logs.WriteString(c.logs.String())
	stored, ends := db.checkConsistent(t, "acme", group, recs)
	if !maps.EqualFunc(stored, ends, maps.Equal) {
		t.Errorf("stored offsets %v, want the ends of the partitions %v", stored, ends)
	}
	if progress == 0 {
		t.Log("no batch committed between the first kills (each blocked batch was the first)")
	}
	if strings.Contains(logs.String(), "pw-in-the-dsn") {
		t.Error("the DSN's password appears in the sink's logs")
	}
}

func TestSinkCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sink"}, 2, "name the warehouse"},
		{[]string{"sink", "mysql"}, 2, `unknown sink "mysql"`},
		{[]string{"sink", "postgres"}, 2, "--config is required"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("keycdc %s: exit %d, %q; want %d and %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://postgres:s3cr3t-pw@127.0.0.1:1/test?connect_timeout=2", "postgres: cannot connect"},
		{"postgres://postgres:s3cr3t-pw@127.0.0.1:notaport/test", "postgres.dsn: not a valid PostgreSQL connection string"},
	} {
		cfg := writeFile(t, fmt.Sprintf("keycloak:\n  realms: [acme]\nkafka:\n  brokers: [%s]\nschema_registry:\n  url: http://127.0.0.1:1\npostgres:\n  dsn: %s\nmetrics:\n  listen: \"\"\n",
			kf.ListenAddrs()[0], tc.dsn))
		code, _, stderr := runCmd(t, "sink", "postgres", "--config", cfg)
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "s3cr3t-pw") {
			t.Errorf("dsn %s: exit %d, %q; want 1 and %q without the password", tc.dsn, code, stderr, tc.want)
		}
	}
}
