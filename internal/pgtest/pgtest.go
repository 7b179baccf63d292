// Package pgtest gives tests a PostgreSQL schema of their own on the test server
// (127.0.0.1:5432, user postgres, database test; KEYCDC_TEST_POSTGRES_DSN overrides it).
// Tests fail, with a message saying so, when the server cannot be reached, unless
// KEYCDC_SKIP_POSTGRES=1 is set, which skips them. It is imported by tests only.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keycdc/keycdc/schemas"
)

// DefaultDSN is the test server.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the test server's connection string, skipping the test when
// KEYCDC_SKIP_POSTGRES=1.
func DSN(t testing.TB) string {
	t.Helper()
	if os.Getenv("KEYCDC_SKIP_POSTGRES") == "1" {
		t.Skip("KEYCDC_SKIP_POSTGRES=1: skipping a test that needs PostgreSQL")
	}
	if dsn := os.Getenv("KEYCDC_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Pool returns a pool connected to the test server, closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		t.Fatalf("PostgreSQL is not reachable for this test (%v). Start it on 127.0.0.1:5432 with a database "+
			"named test, point KEYCDC_TEST_POSTGRES_DSN at another one, or set KEYCDC_SKIP_POSTGRES=1 to skip", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Schema returns the name of a new, randomly named schema (not yet created), which is
// dropped with everything in it when the test ends.
func Schema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "keycdc_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
		}
	})
	return name
}

// Rows reads every keycdc table in schema back as realm → table name → key → row, with
// the types a schemas.Row holds (jsonb maps as map[string]string); key makes a row's
// key. Tables that do not exist are left out.
func Rows(t testing.TB, pool *pgxpool.Pool, schema string, key func(*schemas.Table, schemas.Row) string) map[string]map[string]map[string]schemas.Row {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string]map[string]map[string]schemas.Row{}
	for _, tab := range schemas.Tables() {
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{schema, tab.Name()}.Sanitize()).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if !exists {
			continue
		}
		rows, err := pool.Query(ctx, "SELECT * FROM "+pgx.Identifier{schema, tab.Name()}.Sanitize())
		if err != nil {
			t.Fatal(err)
		}
		fields := rows.FieldDescriptions()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			row := schemas.Row{}
			var realm string
			for i, f := range fields {
				if f.Name == "realm" {
					realm = vals[i].(string)
					continue
				}
				row[f.Name] = fromPG(t, vals[i])
			}
			if out[realm] == nil {
				out[realm] = map[string]map[string]schemas.Row{}
			}
			if out[realm][tab.Name()] == nil {
				out[realm][tab.Name()] = map[string]schemas.Row{}
			}
			out[realm][tab.Name()][key(tab, row)] = row
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// fromPG turns a value pgx read into the type a schemas.Row holds.
func fromPG(t testing.TB, v any) any {
	switch x := v.(type) {
	case nil, string, bool, int64:
		return x
	case time.Time:
		return x.UTC()
	case map[string]any:
		m := make(map[string]string, len(x))
		for k, e := range x {
			s, ok := e.(string)
			if !ok {
				t.Fatalf("jsonb map entry %q is a %T", k, e)
			}
			m[k] = s
		}
		return m
	}
	t.Fatalf("unexpected value type %T", v)
	return nil
}

// Offsets reads the offsets table of schema for group.
func Offsets(t testing.TB, pool *pgxpool.Pool, schema, group string) map[string]map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT topic, "partition", next_offset FROM `+pgx.Identifier{schema, "_keycdc_offsets"}.Sanitize()+
		` WHERE "group" = $1`, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int32]int64{}
	var topic string
	var part int32
	var next int64
	if _, err := pgx.ForEachRow(rows, []any{&topic, &part, &next}, func() error {
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][part] = next
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
