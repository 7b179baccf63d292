// Package events pulls user events and admin events of a Keycloak realm incrementally and
// turns them into rows of the event and admin_event tables, each exactly once.
//
// Data flow: a Stream reads from its Position (a time watermark and the ids already
// written inside the overlap window) up to now, in time order, drops keycdc's own
// CLIENT_LOGIN events unless told to keep them, deduplicates by id, and hands bounded
// Batches (changes, the position after them, and the raw events for change hints) to the
// caller, who commits each batch with its position in one transaction.
//
// Two server generations are handled (see README, "Keycloak notes"):
//   - 26.2 and later: epoch-millisecond date filters and direction=asc. The stream pages
//     forward by time, re-reading the boundary millisecond (same-millisecond events have
//     no defined order), and reads a millisecond that fills a whole page in one answer.
//     Events carry Keycloak's own id.
//   - Before 26.2: date-only filters in the server's time zone and newest-first order.
//     The stream reads day windows that are wide enough for any time zone, newest first,
//     keeps the events inside the window, and sorts them. Events have no id: the id is a
//     deterministic UUID over every field plus the occurrence number of identical events.
//
// The overlap window (default 30s) re-reads events near the watermark so that events that
// become visible late — a slow transaction, a cluster node's clock — are not lost.
package events
