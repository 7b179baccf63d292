// Package sinktest is the conformance suite every keycdc sink passes, and Memory, the
// in-memory store that defines what the suite expects. It is imported only by tests.
//
// A sink's test calls Run with a function returning a fresh Store: how to open sinks on
// it, read back its rows and dead letters, and which tables it loads:
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, func(t *testing.T) sinktest.Store {
//			db := newTestSchema(t)
//			return sinktest.Store{
//				Open: func(t *testing.T, beforeCommit func(context.Context) error) sinks.Sink { ... },
//				Rows: func(t *testing.T) sinktest.Rows { ... },
//			}
//		})
//	}
//
// The suite drives the sink in two ways. Directly, with batches of generated changes:
// random rows of every table of two realms (one with a name that is not a valid topic
// name), drawn from a small pool of keys so that rows are updated, deleted and inserted
// again, with values chosen to trip up quoting, COPY formats and type mappings. And
// through a sinks.Runner reading a kfake cluster with an srfake registry, where the
// records are written in transactions (some aborted, which must never arrive) with a
// few malformed records among them (which must become dead letters), and where the sink
// is made to fail in the middle of a batch, after it has written the batch and before it
// commits, to check that a restart neither loses nor doubles anything.
//
// What "exactly once" means here: after any sequence of failures and restarts, the rows
// are what the committed records leave behind when folded in offset order (the last
// change of a key wins, a tombstone deletes), and, for a sinks.OffsetStore, the rows are
// at every moment what the records before the stored offsets leave behind.
package sinktest
