package snapshot

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// lShapedRows calls fn with the rows of a realm shaped like BENCHMARKS.md's realm L, scaled
// to users: per user one user row, about 2.4 attributes, 1.9 realm-role mappings, 0.2
// client-role mappings, 0.2 required actions and 1.3 group memberships (keyed by group),
// plus groups, roles and clients.
func lShapedRows(users int, fn func(table string, key, value []byte)) {
	uid := func(i int) string { return fmt.Sprintf("%08x-4d2c-4b1a-9c3e-%012x", i*7919, i) }
	groups := max(1, users/50)
	gid := func(i int) string { return fmt.Sprintf("%08x-0a0a-4b1a-8c3e-%012x", i, i*31) }
	depts := []string{"Engineering", "Sales", "Marketing", "Finance", "Support", "Operations", "Legal", "People"}
	val := func(parts ...string) []byte { return keyOf(parts...) } // any distinct bytes will do
	for i := 0; i < users; i++ {
		u := uid(i)
		fn("user", keyOf(u), val(u, "username."+strconv.Itoa(i), "x"))
		fn("user_attribute", keyOf(u, "department", depts[i%len(depts)]), val("a"))
		fn("user_attribute", keyOf(u, "employeeNumber", strconv.Itoa(100000+i)), val("a"))
		if i%4 == 0 {
			fn("user_attribute", keyOf(u, "skills", "go"), val("a"))
			fn("user_attribute", keyOf(u, "skills", "kafka"), val("a"))
		}
		if i%10 == 0 {
			fn("user_attribute", keyOf(u, "phone", "+1 555 01"+strconv.Itoa(10+i%90)), val("a"))
		}
		fn("user_realm_role", keyOf(u, "default-roles-bench-l"), val("r", u))
		if i%2 == 0 {
			fn("user_realm_role", keyOf(u, "staff"), val("r", u))
		}
		if i%3 == 1 {
			fn("user_realm_role", keyOf(u, "role-"+strconv.Itoa(i%200)), val("r", u))
		}
		if i%5 == 0 {
			fn("user_client_role", keyOf(u, "app-"+strconv.Itoa(i%100), "read"), val("c", u))
		}
		if i%11 == 5 {
			fn("user_required_action", keyOf(u, "UPDATE_PASSWORD"), val("q"))
		}
		if i%3 == 0 {
			fn("group_member", keyOf(gid(0), u), val("m"))
		}
		fn("group_member", keyOf(gid(1+i%(groups-1+1)), u), val("m"))
	}
	for g := 0; g < groups; g++ {
		fn("group", keyOf(gid(g)), val("g", strconv.Itoa(g)))
	}
	for r := 0; r < 500; r++ {
		fn("role", keyOf(fmt.Sprintf("role-id-%032d", r)), val("role", strconv.Itoa(r)))
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkImage fills an image with the rows of a realm-L-shaped realm of 100,000 users
// and reports the heap it holds per row, the time per put, and the duration of a full GC
// with the image live (the image's pointers are what a GC has to trace).
//
//	go test -run '^$' -bench Image -benchtime 1x ./poller/snapshot
func BenchmarkImage(b *testing.B) {
	const users = 100_000
	type rowIn struct {
		table      string
		key, value []byte
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		before := heapAlloc()
		var in []rowIn
		lShapedRows(users, func(table string, key, value []byte) { in = append(in, rowIn{table, key, value}) })
		rows := len(in)
		b.StartTimer()
		start := time.Now()
		im := newImage()
		im.gen = 1
		for _, r := range in {
			if _, err := im.put(r.table, r.key, r.value); err != nil {
				b.Fatal(err)
			}
		}
		im.compact()
		put := time.Since(start)
		b.StopTimer()
		in = nil
		after := heapAlloc()
		gcStart := time.Now()
		runtime.GC()
		gc := time.Since(gcStart)
		runtime.KeepAlive(im)
		b.ReportMetric((float64(after)-float64(before))/float64(rows), "B/row")
		b.ReportMetric(float64(put.Nanoseconds())/float64(rows), "ns/put")
		b.ReportMetric(float64(gc.Microseconds())/1000, "ms/gc")
		b.ReportMetric(float64(rows), "rows")
	}
}
