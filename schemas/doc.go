// Package schemas is keycdc's table catalogue: the twelve tables of ADR 0001 with their
// columns, Avro schemas, Go row types, and the encoding of row changes to and from Kafka
// records in the Confluent wire format.
//
// # Data flow
//
//	poller: UserRow{...} ─► User.Upsert(key, row) ─► Change{Table, Key, Value} (Avro bodies)
//	        Codec.Frame(topic, change) ─► key, value with the 5-byte Confluent header ─► Kafka
//	sinks:  Kafka ─► Codec.Decode(ctx, topic, key, value) ─► Decoded{Table, Key Row, Value Row}
//
// # Where things are
//
//   - avro/*.avsc: one key and one value schema per table, embedded in the binary and
//     documented field by field; they are the user documentation of the topics.
//   - table.go: Table, Column, the catalogue values (User, Group, ...), Tables and Lookup.
//   - rows.go: the Go row types the poller fills.
//   - change.go: Change, Table.Upsert and Table.Delete.
//   - row.go: Row and the decoder behind Table.DecodeKey/DecodeValue and Codec.Decode.
//   - codec.go: Codec (Register, Frame, Decode) over a schema registry client.
//
// # Why it is built this way
//
// Encoding uses hamba/avro with the Go row types, the fast path: the poller encodes about a
// million rows per snapshot. Maps are the exception: hamba writes them in Go's random
// iteration order, and the poller detects changed rows by hashing encoded values, so the
// details map is encoded here with sorted keys (see Change).
//
// Decoding goes the other way and has to accept what other versions of keycdc wrote: Codec
// decodes each record with the schema its header names (the writer schema), not with the
// schema compiled into this binary, into a Row keyed by column name. A sink therefore sees
// the columns that were written and decides itself what to do with ones it does not know.
// Register refuses a schema that cannot read what the latest registered version wrote
// (backward compatibility), since a registry may not check.
//
// Nothing in this package logs or holds secrets.
package schemas
