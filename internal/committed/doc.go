// Package committed reads Kafka topics the way keycdc must read its own output at
// start-up: only committed records, from the start of every partition to an end fixed when
// reading begins.
//
// It is shared by topics.Replay (table topics, read to the last stable offset) and
// checkpoint.Store.Load (the checkpoint topic, read to the high watermark), which must not
// import each other; it depends on franz-go alone.
//
// # Why control records are kept
//
// With read_committed isolation, franz-go drops transaction markers and aborted records,
// and a fetch that returns nothing else is not surfaced at all. A partition whose last
// offsets below the end are markers or aborted records would then never look finished.
// Keeping control records makes the marker at the end visible: a partition is finished
// once any record at or past end-1 has been read.
package committed
