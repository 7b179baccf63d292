package postgres_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks"
	"github.com/keycdc/keycdc/sinks/postgres"
	"github.com/keycdc/keycdc/sinks/sinktest"
)

// benchRows makes realistic rows of the user and event tables.
var benchRows = map[string]struct {
	table *schemas.Table
	row   func(i, version int) schemas.Row
}{
	"user": {schemas.User, func(i, v int) schemas.Row {
		id := fmt.Sprintf("5f1c2a9e-7d3b-4c8e-9a61-%012d", i)
		return schemas.Row{"id": id, "username": fmt.Sprintf("user%07d", i), "email": fmt.Sprintf("user%07d@example.com", i),
			"first_name": "Alice", "last_name": fmt.Sprintf("Smith-%d", v), "enabled": true, "email_verified": i%3 == 0,
			"created_timestamp": time.UnixMilli(1_700_000_000_000 + int64(i)).UTC(), "service_account_client_id": nil,
			"federation_link": nil}
	}},
	"event": {schemas.Event, func(i, v int) schemas.Row {
		return schemas.Row{"id": fmt.Sprintf("0b6e8f2c-1d4a-4f7e-8c3b-%012d", i), "time": time.UnixMilli(1_700_000_000_000 + int64(i)).UTC(),
			"type": "LOGIN", "realm_id": "3b2f1c9e-acme", "user_id": fmt.Sprintf("5f1c2a9e-7d3b-4c8e-9a61-%012d", i%5000),
			"session_id": fmt.Sprintf("sess-%d", i), "ip_address": "10.1.2.3", "client_id": "account-console", "error": nil,
			"details": map[string]string{"auth_method": "openid-connect", "username": fmt.Sprintf("user%07d", i%5000),
				"redirect_uri": "https://app.example.com/callback", "code_id": fmt.Sprint(v)}}
	}},
}

// BenchmarkApply measures Sink.Apply alone: batches of new rows (insert), of existing
// rows with a changed column (update), and of rows equal to the stored ones (replay).
// rows/s counts changes applied.
func BenchmarkApply(b *testing.B) {
	for _, name := range []string{"user", "event"} {
		for _, mode := range []string{"insert", "update", "replay"} {
			for _, size := range []int{1000, 5000} {
				b.Run(fmt.Sprintf("%s/%s/batch=%d", name, mode, size), func(b *testing.B) {
					benchApply(b, benchRows[name].table, benchRows[name].row, mode, size)
				})
			}
		}
	}
}

func benchApply(b *testing.B, t *schemas.Table, row func(i, v int) schemas.Row, mode string, size int) {
	d := newDB(b)
	s := d.sink(b, postgresTables(t)...)
	ctx := context.Background()
	tp := sinks.TopicPartition{Topic: "bench." + t.Name(), Partition: 0}
	next := int64(0)
	batch := func(first, version int) sinks.Batch {
		bt := sinks.Batch{Group: "bench", Changes: make([]sinks.Change, size)}
		for i := range size {
			v := row(first+i, version)
			key := schemas.Row{}
			for _, k := range t.KeyColumns() {
				key[k] = v[k]
			}
			bt.Changes[i] = sinks.Change{Source: sinks.Source{Realm: "acme", Table: t}, Key: key, Value: v, TopicPartition: tp, Offset: next + int64(i)}
		}
		prev := next
		if next == 0 {
			prev = -1
		}
		next += int64(size)
		bt.Positions = []sinks.Position{{TopicPartition: tp, Prev: prev, Next: next}}
		return bt
	}
	apply := func(bt sinks.Batch) {
		if err := s.Apply(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	// The update and replay modes work on a table already holding the rows they touch.
	const preload = 20
	if mode != "insert" {
		for i := range preload {
			apply(batch(i*size, 0))
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var bt sinks.Batch
		switch mode {
		case "insert":
			bt = batch(i*size, 0)
		case "update":
			bt = batch((i%preload)*size, i+1)
		case "replay":
			bt = batch((i%preload)*size, 0)
		}
		b.StartTimer()
		apply(bt)
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
}

func postgresTables(t *schemas.Table) []postgres.Option { return []postgres.Option{postgres.Tables(t)} }

// BenchmarkRunner measures the whole sink: records read from kfake (in this process) by
// the Runner, decoded through the registry and loaded, in batches of the given size (5000
// is the default). rows/s counts records.
func BenchmarkRunner(b *testing.B) {
	for _, name := range []string{"user", "event"} {
		for _, size := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("%s/batch=%d", name, size), func(b *testing.B) {
				benchRunner(b, benchRows[name].table, benchRows[name].row, size)
			})
		}
	}
}

func benchRunner(b *testing.B, t *schemas.Table, row func(i, v int) schemas.Row, size int) {
	const records = 50_000
	st := sinktest.NewBenchStream(b, t, records, func(i int) schemas.Row { return row(i, 0) })
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d := newDB(b)
		s := d.sink(b, postgresTables(t)...)
		r, err := sinks.NewRunner(sinks.Config{Group: "bench", Sources: st.Sources(), BatchSize: size},
			[]kgo.Opt{kgo.SeedBrokers(st.Brokers()...), kgo.FetchMaxWait(50 * time.Millisecond)}, st.Decoder(b), s)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- r.Run(ctx) }()
		for {
			got, err := s.Offsets(ctx, "bench", st.Topics())
			if err != nil {
				b.Fatal(err)
			}
			if maps.Equal(got, st.Ends()) {
				break
			}
			time.Sleep(2 * time.Millisecond) // polling for a condition; the benchmark's resolution
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "rows/s")
}
