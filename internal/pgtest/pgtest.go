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
