// Package poller runs keycdc's per-realm change-data loop.
//
// Data flow, for one realm: Run fences any older instance (the realm's transactional id),
// loads the realm's checkpoint, rebuilds the snapshot image from the realm's table topics,
// then repeats a cycle: a full scan when one is due (snapshot.Scanner), then user and admin
// events from the watermark (events.Stream), whose hints refresh just the touched entities
// (Scanner.Refresh) before the events themselves are committed. Every commit is one Kafka
// transaction carrying the records and the realm's position (checkpoint.Writer), so a
// restart resumes exactly where the last commit left off.
//
// Failures: a failed cycle ends the session; the realm's in-memory state is dropped and a
// new session starts after a jittered, growing pause, rebuilding it from Kafka. Fencing by
// another instance ends Run. Keycloak requests retry on their own (poller/keycloak), so
// nothing here retries a request.
//
// The poller composes its children (snapshot, events); they know nothing of it.
package poller
