package sinks

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

type metrics struct {
	records     metric.Int64Counter
	deadLetters metric.Int64Counter
	batchSize   metric.Int64Histogram
	batchTime   metric.Float64Histogram
	failures    metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider, r *Runner) metrics {
	m := mp.Meter("github.com/keycdc/keycdc/sinks")
	var out metrics
	out.records, _ = m.Int64Counter("keycdc.sink.records",
		metric.WithDescription("Changes applied, by realm, table and kind (upsert or delete)"))
	out.deadLetters, _ = m.Int64Counter("keycdc.sink.dead_letters",
		metric.WithDescription("Records sent to the dead-letter store, by realm and table"))
	out.batchSize, _ = m.Int64Histogram("keycdc.sink.batch.records",
		metric.WithDescription("Records per applied batch (changes and dead letters)"))
	out.batchTime, _ = m.Float64Histogram("keycdc.sink.batch.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of a successful Apply"))
	out.failures, _ = m.Int64Counter("keycdc.sink.apply.failures",
		metric.WithDescription("Failed Apply calls (each retry counts)"))
	group := attribute.String("group", r.cfg.Group)
	_, _ = m.Int64ObservableGauge("keycdc.sink.lag",
		metric.WithDescription("Offsets between what the sink holds and the last stable offsets of the assigned partitions"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(r.lag(), metric.WithAttributes(group))
			return nil
		}))
	return out
}

func (m metrics) recordBatch(ctx context.Context, b Batch, records int, d time.Duration) {
	type key struct{ realm, table, kind string }
	counts := map[key]int64{}
	for _, c := range b.Changes {
		kind := "upsert"
		if c.Value == nil {
			kind = "delete"
		}
		counts[key{c.Realm, c.Table.Name(), kind}]++
	}
	for k, n := range counts {
		m.records.Add(ctx, n, metric.WithAttributes(attribute.String("realm", k.realm),
			attribute.String("table", k.table), attribute.String("kind", k.kind)))
	}
	dead := map[key]int64{}
	for _, dl := range b.DeadLetters {
		dead[key{realm: dl.Realm, table: dl.Table.Name()}]++
	}
	for k, n := range dead {
		m.deadLetters.Add(ctx, n, metric.WithAttributes(attribute.String("realm", k.realm), attribute.String("table", k.table)))
	}
	m.batchSize.Record(ctx, int64(records))
	m.batchTime.Record(ctx, d.Seconds())
}
