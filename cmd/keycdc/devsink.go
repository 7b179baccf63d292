package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
	"github.com/keycdc/keycdc/sinks/jsonfile"
	"github.com/keycdc/keycdc/sinks/postgres"
	"github.com/keycdc/keycdc/topics"
)

// devSink is the sink keycdc dev runs: PostgreSQL when a DSN is given, else a JSON file in
// the data directory, queryable at /tables/{realm}/{table} on the metrics address.
type devSink struct {
	runner *sinks.Runner
	where  string
	rows   func() (int, error)
	pool   *pgxpool.Pool
}

func newDevSink(ctx context.Context, c *config, dir string, log *slog.Logger, tel *telemetry) (*devSink, error) {
	tables, err := tablesOf(c.Sync.Tables)
	if err != nil {
		return nil, err
	}
	sources := map[string]sinks.Source{}
	for _, realm := range c.Keycloak.Realms {
		for _, t := range tables {
			sources[topics.Name(c.Kafka.TopicPrefix, realm, t)] = sinks.Source{Realm: realm, Table: t}
		}
	}
	ds := &devSink{}
	var sink sinks.Sink
	if c.Postgres.DSN != "" {
		if ds.pool, err = postgresPool(ctx, c); err != nil {
			return nil, err
		}
		ps, err := postgres.New(ctx, ds.pool, postgres.Schema(c.Sink.Schema), postgres.Tables(tables...), postgres.Logger(log))
		if err != nil {
			ds.close()
			return nil, err
		}
		sink = ps
		ds.where = fmt.Sprintf("PostgreSQL, schema %s (tables %s.\"user\", ...)", c.Sink.Schema, c.Sink.Schema)
		ds.rows = func() (int, error) {
			var n int
			err := ds.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %q."user"`, c.Sink.Schema)).Scan(&n)
			return n, err
		}
	} else {
		path := filepath.Join(dir, "sink.json")
		store, err := jsonfile.Open(path)
		if err != nil {
			return nil, err
		}
		sink = store.Sink(nil)
		ds.where = path + " (a JSON file; pass --postgres-dsn to load PostgreSQL instead)"
		ds.rows = func() (int, error) { return store.Count(), nil }
		tel.handle("GET /tables/{realm}/{table}", tablesHandler(store))
	}
	reg, err := registryClient(c)
	if err != nil {
		ds.close()
		return nil, err
	}
	base, err := kafkaOpts(c)
	if err != nil {
		ds.close()
		return nil, err
	}
	ds.runner, err = sinks.NewRunner(sinks.Config{Group: c.Sink.GroupID, Sources: sources, BatchSize: c.Sink.BatchSize,
		BatchAge: c.Sink.BatchAge, DeadLetterLimit: c.Sink.DeadLetterMax, StopTimeout: c.Sink.StopTimeout},
		base, schemas.NewCodec(reg), sink, sinks.Logger(log), sinks.MeterProvider(tel.mp), sinks.TracerProvider(tel.tp))
	if err != nil {
		ds.close()
		return nil, err
	}
	return ds, nil
}

func (d *devSink) close() {
	if d.pool != nil {
		d.pool.Close()
	}
}

// tablesHandler serves a table's rows as JSON: GET /tables/{realm}/{table}[?limit=N].
func tablesHandler(store *jsonfile.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := schemas.Lookup(r.PathValue("table")); !ok {
			http.Error(w, "unknown table "+strconv.Quote(r.PathValue("table")), http.StatusNotFound)
			return
		}
		rows := store.Rows(r.PathValue("realm"), r.PathValue("table"))
		if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l >= 0 && l < len(rows) {
			rows = rows[:l]
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
	})
}
