// Package sinks loads keycdc's topics into warehouses and other systems. It holds the
// Runner every sink shares and the seam between them: Sink, with the optional OffsetStore
// and DeadLetterCounter. The sinks themselves live in sub-packages (sinks/postgres), and
// sinks/sinktest is the conformance suite they all pass.
//
// # Data flow
//
//	topics <prefix>.<realm>.<table> ─► Runner: kgo group consumer, read_committed
//	    ─► Decoder (schemas.Codec, writer schema from the registry) ─► Change{Realm, Table, Key, Value}
//	    ─► Batch{Changes, DeadLetters, Positions} ─► Sink.Apply (one transaction)
//	    ─► Kafka offset commit (monitoring only, for an OffsetStore)
//
// # Positions: the sink is the truth
//
// Kafka's committed offsets and a warehouse cannot be updated atomically, so a sink that
// wants exactly-once stores its positions itself, in the transaction that writes the rows
// (OffsetStore). Whenever the group assigns partitions to the Runner, it loads their
// stored offsets and seeks there (a partition without one starts at the beginning); it
// commits offsets to Kafka only after Apply returned, and only so that lag can be watched
// with the usual tools. A crash anywhere therefore leaves the warehouse at a batch
// boundary, and the next run continues from exactly there. A sink without an OffsetStore
// gets Kafka's committed offsets and at-least-once delivery, which idempotent sinks can
// live with.
//
// Each Position carries the offset the batch was read from (Prev), and an OffsetStore
// refuses a batch whose Prev is not what it holds (ErrPositionMoved): a consumer that was
// dropped from the group while it applied a batch cannot overwrite the work of the one
// that took its partitions over. The Runner stops on that error.
//
// # Batches and rebalances
//
// The Runner polls with kgo's BlockRebalanceOnPoll: from the first poll of a batch until
// the batch is applied, the group cannot take partitions away, so no batch spans an
// assignment change. A batch ends when it holds Config.BatchSize records, when
// Config.BatchAge has passed since its first record, or at once when a rebalance is
// waiting for it (kgo's OnPartitionsCallbackBlocked). While a batch is applied, in a
// goroutine of Run, the next one is polled and decoded; its positions start where the
// batch in flight ends, and rebalances are allowed again only when neither is open.
//
// # Dead letters
//
// A record that can never be decoded (schemas.IsMalformed), that is of another table than
// its topic, or that the sink rejects (RejectError) goes to the sink's dead-letter store in
// the batch's transaction, with its topic, partition, offset, bytes and the reason; the
// Runner continues. A decode error that is not the record's fault (the registry is down)
// is retried and, when retries run out, stops the Runner instead: a record is never
// dead-lettered for a reason that would heal. Config.DeadLetterLimit stops the Runner
// before a batch would take the group past it, counting from what the sink already holds
// (DeadLetterCounter), so a sink that stopped at the limit stops again after a restart
// until an operator has looked at the records.
//
// # Stopping
//
// Cancelling Run's context is a graceful stop: the batch in progress is applied (within
// Config.StopTimeout, after which its Apply is cancelled and so rolled back), the offsets
// are committed to Kafka and the group is left. A failed Apply is retried a few times with
// growing pauses; then Run returns the error, and the next start resumes from the last
// applied batch.
//
// The Runner logs through an injected *slog.Logger (a line at start, progress while it
// catches up, retries and dead letters; never record contents) and records metrics
// through an injected otel MeterProvider: keycdc.sink.records (by realm, table and kind),
// keycdc.sink.dead_letters, keycdc.sink.batch.records, keycdc.sink.batch.duration,
// keycdc.sink.apply.failures and keycdc.sink.lag.
package sinks
