package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/keycdc/keycdc/poller"
	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

func cmdRun(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("run", e)
	once := fs.Bool("once", false, "run one complete cycle (full scan and events up to now), commit it and exit")
	c, err := commandConfig(fs, e, args, needKeycloak|needKafka|needRegistry)
	if err != nil {
		return err
	}
	log := newLogger(c, e.stderr)
	tel, err := startTelemetry(c, log)
	if err != nil {
		return err
	}
	defer tel.close()
	p, err := newPipeline(ctx, c, log, tel, *once)
	if err != nil {
		return err
	}
	defer p.close()
	return p.run(ctx)
}

// pipeline is keycdc run: one poller per realm, sharing a Keycloak client and a codec.
type pipeline struct {
	cfg     *config
	log     *slog.Logger
	once    bool
	pollers []*poller.Poller
	admin   *kgo.Client
	// metricsAddr is where /metrics and /healthz are served ("" when disabled).
	metricsAddr string
	started     time.Time
}

// stallAfter is how long a realm may go without progress before /healthz reports it:
// longer than the slowest single request with its retries, short enough to catch a stuck loop.
func (p *pipeline) stallAfter() time.Duration {
	return 5*time.Minute + 10*p.cfg.Sync.PollInterval
}

func compression(name string) kgo.CompressionCodec {
	switch name {
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	case "none":
		return kgo.NoCompression()
	}
	// gzip at its fastest level: on batches of event records it takes 7 ms where the
	// default level takes 17, for the same ratio (28%; BENCHMARKS.md).
	return kgo.GzipCompression().WithLevel(gzip.BestSpeed)
}

// newPipeline connects to Kafka and the registry, creates or checks the topics, registers
// the schemas and builds the pollers. Each failure says which service it was about.
func newPipeline(ctx context.Context, c *config, log *slog.Logger, tel *telemetry, once bool) (*pipeline, error) {
	tables, err := tablesOf(c.Sync.Tables)
	if err != nil {
		return nil, err
	}
	if err := topics.Collisions(c.Kafka.TopicPrefix, c.Keycloak.Realms); err != nil {
		return nil, fmt.Errorf("keycloak.realms: %w", err)
	}
	base, err := kafkaOpts(c)
	if err != nil {
		return nil, err
	}
	p := &pipeline{cfg: c, log: log, once: once, started: time.Now()}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	if p.admin, err = kgo.NewClient(base...); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	adm := kadm.NewClient(p.admin)
	if err := reachable(ctx, c, base); err != nil {
		return nil, err
	}
	specs := map[string]topics.Spec{topics.CheckpointTopic(c.Kafka.TopicPrefix): topics.CheckpointSpec(int16(c.Kafka.ReplicationFactor))}
	for _, realm := range c.Keycloak.Realms {
		for _, t := range tables {
			specs[topics.Name(c.Kafka.TopicPrefix, realm, t)] = topics.DataSpec(int32(c.Kafka.Partitions), int16(c.Kafka.ReplicationFactor))
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := topics.Ensure(tctx, adm, specs); err != nil {
		if topics.IsFatal(err) {
			return nil, fmt.Errorf("kafka topics (brokers %s): %w", strings.Join(c.Kafka.Brokers, ","), err)
		}
		log.Warn("kafka topics differ from keycdc's defaults", "err", err)
	}
	reg, err := registryClient(c)
	if err != nil {
		return nil, err
	}
	codec := schemas.NewCodec(reg)
	for _, realm := range c.Keycloak.Realms {
		for _, t := range tables {
			if err := codec.Register(tctx, topics.Name(c.Kafka.TopicPrefix, realm, t), t); err != nil {
				return nil, fmt.Errorf("schema registry %s: %w", c.SchemaRegistry.URL, err)
			}
		}
	}
	var start time.Time
	if c.Sync.StartDate != "" {
		start, _ = time.Parse(time.DateOnly, c.Sync.StartDate)
	}
	for _, realm := range c.Keycloak.Realms {
		// One Keycloak client per realm: keycloak.concurrency bounds each realm's requests.
		kc, err := keycloakClient(c, tel.mp, keycloak.TracerProvider(tel.tp))
		if err != nil {
			return nil, err
		}
		producerOpts := append(append([]kgo.Opt{}, base...),
			kgo.TransactionalID(transactionalID(c.Kafka.TopicPrefix, realm)),
			kgo.TransactionTimeout(c.Kafka.TxTimeout),
			kgo.ProducerBatchCompression(compression(c.Kafka.Compression)),
			kgo.ProducerBatchMaxBytes(8<<20),
		)
		consumerOpts := append(append([]kgo.Opt{}, base...), topics.ReplayOpts()...)
		pl, err := poller.New(poller.Config{
			Realm: realm, TopicPrefix: c.Kafka.TopicPrefix, PollInterval: c.Sync.PollInterval,
			FullScanInterval: c.Sync.FullScanInterval, Start: start, Tables: tables, Once: once,
			EventsOverlap: c.Sync.EventsOverlap, PageSize: c.Keycloak.PageSize, Concurrency: c.Keycloak.Concurrency,
			MaxBatch: c.Kafka.MaxTxRecords, MaxBatchAge: c.Sync.MaxBatchAge,
			KeepOwnClientLogins: c.Sync.KeepOwnLogins, AdminEventRepresentations: c.Sync.AdminRepresentation,
		}, kc, poller.Kafka{
			NewProducer: func() (*kgo.Client, error) { return kgo.NewClient(producerOpts...) },
			NewConsumer: func() (*kgo.Client, error) { return kgo.NewClient(consumerOpts...) },
		},
			codec, poller.Logger(log), poller.MeterProvider(tel.mp), poller.TracerProvider(tel.tp))
		if err != nil {
			return nil, err
		}
		p.pollers = append(p.pollers, pl)
	}
	tel.setHealth(p.health)
	p.metricsAddr = tel.addr()
	ok = true
	return p, nil
}

// reachable fails fast, with one line saying what to fix, when Kafka or Keycloak cannot be
// reached or Keycloak refuses the credentials: better than retrying in the background.
func reachable(ctx context.Context, c *config, base []kgo.Opt) error {
	if err := kafkaReachable(ctx, c, base); err != nil {
		return err
	}
	kctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	kc, err := keycloakClient(c, nil, keycloak.Retries(2, 200*time.Millisecond, time.Second))
	if err != nil {
		return err
	}
	for _, realm := range c.Keycloak.Realms {
		if err := kc.Token(kctx, realm); err != nil {
			var ae *keycloak.AuthError
			if errors.As(err, &ae) {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("keycloak: cannot get a token for realm %q from %s: %v; check keycloak.url (add /auth for servers with the legacy path) and that Keycloak is running",
				realm, c.Keycloak.URL, err)
		}
	}
	return nil
}

// transactionalID identifies a realm's producer: a second keycdc for the same prefix and
// realm fences the first. A topic prefix cannot contain ':', so no other prefix and realm
// give the same id.
func transactionalID(prefix, realm string) string { return "keycdc:" + prefix + ":" + realm }

// run runs every realm until ctx ends (or one cycle each, with once). A realm that fails
// permanently stops the others.
func (p *pipeline) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, pl := range p.pollers {
		g.Go(func() error { return pl.Run(gctx) })
	}
	attrs := []any{"realms", strings.Join(p.cfg.Keycloak.Realms, ","), "poll_interval", p.cfg.Sync.PollInterval}
	if p.metricsAddr != "" {
		attrs = append(attrs, "metrics", p.metricsAddr)
	}
	if p.once {
		p.log.Info("running one cycle", attrs...)
	} else {
		p.log.Info("keycdc running", attrs...)
	}
	err := g.Wait()
	if err != nil && errors.Is(err, poller.ErrFenced) {
		return fmt.Errorf("%w; stop the other instance or give this one another kafka.topic_prefix", err)
	}
	return err
}

// health is unhealthy while any realm's last session failed and no cycle has succeeded
// since, or when a realm has not moved forward — no commit, no completed cycle, no page of a
// running scan applied — for longer than stallAfter (a loop stuck on something that never
// errors). A long first scan of a large realm is progress, not a stall.
func (p *pipeline) health() error {
	var bad []string
	stall := p.stallAfter()
	now := time.Now()
	for _, pl := range p.pollers {
		st := pl.Status()
		switch {
		case st.LastError != "":
			bad = append(bad, fmt.Sprintf("realm %s: %s", st.Realm, st.LastError))
		case now.Sub(p.started) > stall && now.Sub(st.LastProgress) > stall:
			bad = append(bad, fmt.Sprintf("realm %s: no progress for %v", st.Realm, stall))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// statuses returns every realm's progress.
func (p *pipeline) statuses() []poller.Status {
	out := make([]poller.Status, 0, len(p.pollers))
	for _, pl := range p.pollers {
		out = append(out, pl.Status())
	}
	return out
}

func (p *pipeline) close() {
	if p.admin != nil {
		p.admin.Close()
	}
}
