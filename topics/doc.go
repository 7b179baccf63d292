// Package topics names keycdc's Kafka topics, says how they must be configured, creates and
// checks them, and reads them back.
//
// # Data flow
//
//	config (prefix, realms) ─► ValidatePrefix, Collisions ─► Name(prefix, realm, table), CheckpointTopic(prefix)
//	                        ─► Ensure(ctx, adm, {topic: DataSpec(...) / CheckpointSpec(...)}) at start-up
//	start-up of a realm     ─► Replay(ctx, cl, its table topics, fn): every committed record, to rebuild state
//
// Every table of every realm has its own compacted topic, <prefix>.<realm>.<table>: the
// latest record of each key is the row, a tombstone deletes it. The checkpoint topic,
// <prefix>._keycdc_checkpoints, holds each realm's position (package checkpoint).
//
// # Why
//
// Compaction is what makes the topics a table: with cleanup.policy=delete, retention
// would drop rows that simply never changed. Ensure therefore refuses a topic that is not
// compacted, and says how to fix it, instead of quietly using it. Topic names are checked
// up front because Kafka refuses some (length, characters) and treats '.' and '_' as the
// same when checking for collisions, so two realms could otherwise end up sharing topics.
//
// Replay reads with read_committed isolation: the poller's records are written in
// transactions together with its checkpoint, and only committed ones describe what the
// checkpoint covers.
package topics
