// Package checkpoint stores each realm's position in Kafka, atomically with the records
// the position covers.
//
// # Data flow
//
//	start:  Writer.Fence ─► Store.Load(realm) ─► Position (nil: start from scratch)
//	loop:   poller builds records + next Position ─► Writer.Commit(recs, pos)
//	        = begin ─► produce recs ─► produce <topic>[key=realm] = pos ─► flush ─► commit
//
// # Why
//
// A position saved anywhere else could run ahead of its data (records lost after a crash)
// or behind it (records repeated). Written in the same transaction as the records, it is
// visible to read_committed readers exactly when they are: after a crash, Load returns
// the position of the last committed transaction, and the data topics hold exactly the
// records up to it. Fence first makes sure no older instance can still commit.
//
// # Record layout
//
// The checkpoint topic is compacted; its record key is the Writer's key (the realm's name)
// as raw bytes, and its value is one format byte (1) followed by the Position's bytes. A
// tombstone (null value) means no checkpoint. testdata/record.golden pins the layout.
package checkpoint
