// Package postgres is keycdc's PostgreSQL warehouse sink: it loads the topics into one
// table per keycdc table, exactly once, with the positions it has loaded up to stored in
// the same transactions as the rows. It runs under a sinks.Runner (keycdc sink postgres).
//
// # Layout
//
// Everything lives in one schema (Schema, default keycdc; sink.schema):
//
//	"user", user_attribute, ..., admin_event   one table per keycdc table, named like it
//	_keycdc_offsets                            ("group", topic, "partition") → next_offset
//	_keycdc_dead_letters                       ("group", topic, "partition", "offset") → realm,
//	                                           table_name, key, value (bytea), reason, created_at
//
// A data table has a realm column (text) and then the table's Avro columns, in schema
// order, typed text, boolean, bigint, timestamp with time zone and jsonb (the details maps);
// the realm column leads the primary key, followed by the key columns, so all realms share
// one table and "WHERE realm = 'acme'" selects one. Key columns are NOT NULL, others are
// nullable, so a record from an older writer that lacks a column still loads (as NULL).
// Column and table comments carry the Avro docs. Names are quoted everywhere ("user" and
// "group" are reserved words). New creates every table up front (Tables narrows that;
// others are created by their first record), and again at the next start if one was
// dropped. A record that
// carries a column its table lacks (a newer writer) has it added with ALTER TABLE ... ADD
// COLUMN, typed from the value; creating and altering tables runs in transactions of its
// own under an advisory lock, so several sink processes can share a schema; such columns
// are marked with a comment starting "keycdc:". The column name realm is reserved: a
// record carrying one is a dead letter. Columns an operator adds (a load time with a
// default, a generated column) are the operator's: the sink never writes them, and a
// record carrying a field of that name is a dead letter.
//
// # A batch
//
// Apply keeps the last change of each row (sinks.Batch.Latest) and checks every value
// against what PostgreSQL can store (text without NUL, valid UTF-8, timestamps within
// PostgreSQL's range, a type that fits the existing column); changes that fail are refused
// together with a sinks.RejectError, which the Runner turns into dead letters. The rest is
// one transaction:
//
//  1. every partition's offset moves from the batch's Prev to its Next (UPDATE ... WHERE
//     next_offset = Prev, or INSERT for a partition seen first); a row not matched means
//     another consumer has written the partition, and the batch is refused with
//     sinks.ErrPositionMoved (or is recognised as already applied, when every partition
//     already stands at Next: a retry after a commit whose reply was lost);
//  2. per table, new rows are copied (COPY, binary) straight into the table, and rows whose
//     key exists are copied into a temporary staging table (created once per connection)
//     and merged with one INSERT ... SELECT ... ON CONFLICT DO UPDATE that skips rows
//     already equal, so replays add no row versions. Which rows are new follows from the
//     table's previous batch: after one of only new rows (events, a realm being loaded)
//     the batch is copied in under a savepoint, falling back on a unique violation; after
//     one of only existing rows it is merged whole; otherwise the keys are looked up
//     first. Deletes go in one DELETE ... USING unnest(keys);
//  3. the dead letters are inserted (ON CONFLICT DO NOTHING);
//  4. commit.
//
// Taking the offset rows first serialises two writers of the same partition: the second
// waits for the first, then finds the offset moved. A crash anywhere before the commit
// leaves nothing behind; after it, the stored offsets say where to resume. The
// transaction runs with synchronous_commit off: a commit that a crash of PostgreSQL itself
// loses takes its offsets with it, so its records are simply loaded again, and the
// commit does not wait for the WAL flush.
//
// Errors never include the connection string: pgx's connection errors name only the
// user, database and host. Values never appear in reasons or logs either.
package postgres
