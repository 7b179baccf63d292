package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
	"github.com/keycdc/keycdc/sinks/postgres"
	"github.com/keycdc/keycdc/topics"
)

// sinkNames lists the warehouses `keycdc sink` loads.
const sinkNames = "postgres"

// cmdSink dispatches on the sink's name: keycdc sink postgres --config F.
func cmdSink(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(e.stdout, "Usage: keycdc sink <warehouse> --config FILE\n\nWarehouses: %s\n", sinkNames)
			return errHelp
		}
		return usagef("name the warehouse to load: keycdc sink postgres --config FILE")
	}
	switch args[0] {
	case "postgres":
		return cmdSinkPostgres(ctx, e, args[1:])
	}
	return usagef("unknown sink %q (sinks: %s)", args[0], sinkNames)
}

func cmdSinkPostgres(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("sink postgres", e)
	c, err := commandConfig(fs, e, args, needRealms|needKafka|needRegistry|needPostgres)
	if err != nil {
		return err
	}
	log := newLogger(c, e.stderr)
	tel, err := startTelemetry(c, log)
	if err != nil {
		return startFailed(ctx, err)
	}
	defer tel.close()

	tables, err := tablesOf(c.Sync.Tables)
	if err != nil {
		return startFailed(ctx, err)
	}
	if err := topics.Collisions(c.Kafka.TopicPrefix, c.Keycloak.Realms); err != nil {
		return fmt.Errorf("keycloak.realms: %w", err)
	}
	sources := map[string]sinks.Source{}
	for _, realm := range c.Keycloak.Realms {
		for _, t := range tables {
			sources[topics.Name(c.Kafka.TopicPrefix, realm, t)] = sinks.Source{Realm: realm, Table: t}
		}
	}
	base, err := kafkaOpts(c)
	if err != nil {
		return startFailed(ctx, err)
	}
	if err := kafkaReachable(ctx, c, base); err != nil {
		return startFailed(ctx, err)
	}
	reg, err := registryClient(c)
	if err != nil {
		return startFailed(ctx, err)
	}
	pool, err := postgresPool(ctx, c)
	if err != nil {
		return startFailed(ctx, err)
	}
	defer pool.Close()
	sink, err := postgres.New(ctx, pool, postgres.Schema(c.Sink.Schema), postgres.Tables(tables...), postgres.Logger(log))
	if err != nil {
		return startFailed(ctx, err)
	}
	kopts := base
	if c.Sink.InstanceID != "" {
		kopts = append(kopts, kgo.InstanceID(c.Sink.InstanceID))
	}
	r, err := sinks.NewRunner(sinks.Config{Group: c.Sink.GroupID, Sources: sources, BatchSize: c.Sink.BatchSize,
		BatchAge: c.Sink.BatchAge, DeadLetterLimit: c.Sink.DeadLetterMax, StopTimeout: c.Sink.StopTimeout},
		kopts, schemas.NewCodec(reg), sink, sinks.Logger(log), sinks.MeterProvider(tel.mp), sinks.TracerProvider(tel.tp))
	if err != nil {
		return startFailed(ctx, err)
	}
	tel.setHealth(r.Health)
	err = r.Run(ctx)
	if errors.Is(err, sinks.ErrDeadLetterLimit) {
		return fmt.Errorf("%w; the records are in %s._keycdc_dead_letters: delete the rows you have dealt with, or raise sink.dead_letter_limit, and start the sink again",
			err, c.Sink.Schema)
	}
	if errors.Is(err, sinks.ErrPositionMoved) {
		return fmt.Errorf("%w; is another sink with group %q writing to the same schema? Start this one again to continue from the stored offsets",
			err, c.Sink.GroupID)
	}
	return err
}

// startFailed is the result of a start-up step that failed: nil when the command was
// stopped meanwhile (a signal during start-up interrupts whatever it was doing, and
// nothing is half done yet), err otherwise.
func startFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// kafkaReachable fails fast, with one line, when no broker answers.
func kafkaReachable(ctx context.Context, c *config, base []kgo.Opt) error {
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	kctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).BrokerMetadata(kctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("kafka: cannot reach brokers %s: %v; check kafka.brokers, kafka.tls and kafka.sasl, and that Kafka is running",
			strings.Join(c.Kafka.Brokers, ","), err)
	}
	return nil
}

// postgresPool connects to postgres.dsn and checks the connection. No error shows the
// connection string: pgx's parse errors quote it (redacting what they recognise as a
// password), so they are replaced by a fixed message.
func postgresPool(ctx context.Context, c *config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(string(c.Postgres.DSN))
	if err != nil {
		return nil, errors.New("postgres.dsn: not a valid PostgreSQL connection string (a postgres:// URL or key=value pairs; " +
			"the parser's message is not shown because it quotes the string, password included)")
	}
	pc.MaxConns = 4
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := pc.ConnConfig.RuntimeParams["application_name"]; !ok {
		pc.ConnConfig.RuntimeParams["application_name"] = "keycdc sink"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("postgres: cannot connect (%v); check postgres.dsn and that PostgreSQL is running", err)
	}
	return pool, nil
}
