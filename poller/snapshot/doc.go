// Package snapshot turns full scans and targeted refreshes of a Keycloak realm's entities
// (users and their attributes, role mappings, required actions and group memberships;
// groups; roles and composites; clients) into true change data.
//
// Data flow: Restore rebuilds an image of what the realm's topics hold (encoded keys and
// value hashes, grouped by owner). Scan runs three stages on a bounded worker pool —
// definitions (clients, roles, composites, service accounts), listings (users, role holders,
// the group tree and members) and reconciliation — and a single diff loop compares every
// row with the image: new or changed rows are written, unchanged rows are not, and rows the
// scan did not see are tombstoned only after a point lookup (or a complete, unpaged
// listing) confirms they are gone. Refresh does the same for the entities that admin and
// user events name (Hints). Changes reach the caller's committer in bounded chunks.
//
// Why an image and not a copy: rows are stored as 64-bit value hashes under their encoded
// keys, so the state costs tens of bytes a row and is rebuilt from Kafka at start-up
// without decoding.
package snapshot
