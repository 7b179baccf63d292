package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keycdc/keycdc/internal/expected"
	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

// Benchmarks of keycdc against the Keycloak twin: the figures of BENCHMARKS.md. Each one
// runs keycdc as a child process (this test binary re-executed, see TestMain) so that its
// CPU time and peak RSS are its own, while the twin, kfake and srfake live in the
// benchmark's process. One iteration is one complete measurement, so run them with
// -benchtime 1x:
//
//	go test -run '^$' -bench 'Realm/S$' -benchtime 1x ./cmd/keycdc
//	go test -run '^$' -bench 'Events/L$' -benchtime 1x ./cmd/keycdc
//
// keycdc's settings can be changed for a run through its environment variables, which the
// child inherits (KEYCDC_KEYCLOAK_PAGE_SIZE=1000, KEYCDC_KEYCLOAK_CONCURRENCY=16, ...).
// KEYCDC_BENCH_PROFILE=dir writes keycdc's CPU profile, heap profile and log into dir,
// KEYCDC_BENCH_CHANGES=n sets the number of timed changes (default 200), and
// KEYCDC_BENCH_LATENCY_MS=n the twin's latency per request in BenchmarkRealm (default 2).

// benchSize is one realm size of BENCHMARKS.md.
type benchSize struct {
	name string
	spec kctwin.GenerateSpec
}

// benchSizes are S, M and L. L is the realm; S and M scale users, groups, events
// and admin events down with it and keep enough roles and clients for every shape the
// generator makes.
func benchSizes() []benchSize {
	return []benchSize{
		{"S", kctwin.GenerateSpec{Name: "bench-s", Users: 1_000, Groups: 50, Roles: 20, Clients: 10,
			Events: 10_000, AdminEvents: 1_000, Seed: 1}},
		{"M", kctwin.GenerateSpec{Name: "bench-m", Users: 20_000, Groups: 400, Roles: 100, Clients: 50,
			Events: 200_000, AdminEvents: 20_000, Seed: 1}},
		{"L", kctwin.GenerateSpec{Name: "bench-l", Users: 100_000, Groups: 2_000, Roles: 200, Clients: 100,
			Events: 1_000_000, AdminEvents: 100_000, Seed: 1}},
	}
}

// BenchmarkRealm measures, for each size with 2 ms of latency on every Keycloak request:
// the first cycle of a continuous keycdc (initial snapshot, then the events backfill),
// then quiet cycles, then the delay from changes in the twin to their committed records.
func BenchmarkRealm(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				latency := time.Duration(envInt(b, "KEYCDC_BENCH_LATENCY_MS", 2)) * time.Millisecond
				f := measureRealm(b, sz.spec, realmRun{latency: latency, pollInterval: time.Second,
					quietCycles: 10, changes: envInt(b, "KEYCDC_BENCH_CHANGES", 200), profile: sz.name})
				f.report(b)
			}
		})
	}
}

// BenchmarkEvents measures events end to end (decode, Avro, transactional produce) with no
// latency: keycdc run --once over a realm of few entities and each size's events.
func BenchmarkEvents(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			spec := kctwin.GenerateSpec{Name: sz.spec.Name, Users: 1000, Groups: 20, Roles: 10, Clients: 10,
				Events: sz.spec.Events, AdminEvents: sz.spec.AdminEvents, Seed: 1}
			for i := 0; i < b.N; i++ {
				f := measureEvents(b, spec, "events-"+sz.name)
				f.report(b)
			}
		})
	}
}

// The harness itself is kept from rotting by a run over a tiny realm: every phase must
// produce its figures, the topics must equal the realm, the calls must respect the lower
// bound and no change may go missing.
func TestBenchHarnessSmoke(t *testing.T) {
	spec := kctwin.GenerateSpec{Name: "smoke", Users: 60, Groups: 8, Roles: 6, Clients: 4, Events: 300, AdminEvents: 40, Seed: 3}
	f := measureRealm(t, spec, realmRun{latency: time.Millisecond, pollInterval: 200 * time.Millisecond, quietCycles: 3,
		changes: 5, pageSize: 7, check: true})
	if f.snapshotCalls < f.bound.total() {
		t.Errorf("snapshot made %d calls, fewer than the lower bound %d: the bound is wrong\n%s", f.snapshotCalls, f.bound.total(), f.routeTable())
	}
	if float64(f.snapshotCalls) > 1.2*float64(f.bound.total())+4 {
		t.Errorf("snapshot made %d calls for a lower bound of %d\n%s", f.snapshotCalls, f.bound.total(), f.routeTable())
	}
	if f.entityRecords != f.entityRows || f.eventRecords != f.eventRows {
		t.Errorf("first cycle committed %d entity and %d event records; the realm has %d and %d", f.entityRecords, f.eventRecords, f.entityRows, f.eventRows)
	}
	if len(f.quiet) != 3 {
		t.Errorf("measured %d quiet cycles, want 3", len(f.quiet))
	}
	for _, q := range f.quiet {
		if q.calls == 0 || q.dur <= 0 {
			t.Errorf("quiet cycle without calls or duration: %+v", q)
		}
	}
	f.report(t)
	if len(f.latencies) != 5 || f.missing != 0 {
		t.Errorf("%d changes timed, %d missing; want 5 and 0", len(f.latencies), f.missing)
	}
	if f.rssPeakKB <= 0 || f.rssSnapshotKB <= 0 || f.childCPU <= 0 {
		t.Errorf("no resource figures: rss %d/%d KB, cpu %v", f.rssSnapshotKB, f.rssPeakKB, f.childCPU)
	}
	ev := measureEvents(t, kctwin.GenerateSpec{Name: "smoke-ev", Users: 20, Groups: 2, Roles: 2, Clients: 2, Events: 500,
		AdminEvents: 50, Seed: 4}, "")
	ev.report(t)
	if ev.records != ev.want || ev.dur <= 0 {
		t.Errorf("events run wrote %d of %d events in %v", ev.records, ev.want, ev.dur)
	}
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		tb.Fatalf("%s=%q: want an integer", name, v)
	}
	return n
}

// benchWorld is the in-process world of one measurement: kfake, srfake and the twin on
// real sockets, with a hook that records every Keycloak request.
type benchWorld struct {
	tb    testing.TB
	kafka *kfake.Cluster
	reg   *srfake.Registry
	twin  *kctwin.Twin
	srv   *httptest.Server
	realm string
	dir   string
	log   requestLog
}

func newBenchWorld(tb testing.TB, spec kctwin.GenerateSpec, latency time.Duration) *benchWorld {
	tb.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(kc.Close)
	reg := srfake.New()
	tb.Cleanup(reg.Close)
	tw, err := kctwin.New(kctwin.Latency(latency))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tw.Close() })
	start := time.Now()
	if err := tw.Generate(spec); err != nil {
		tb.Fatal(err)
	}
	if err := tw.SetPollerSecret(spec.Name, "s3cret"); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("realm %s generated in %v", spec.Name, time.Since(start).Round(time.Millisecond))
	w := &benchWorld{tb: tb, kafka: kc, reg: reg, twin: tw, realm: spec.Name, dir: tb.TempDir()}
	tw.SetHook(w.log.record)
	w.srv = httptest.NewServer(tw)
	tb.Cleanup(w.srv.Close)
	return w
}

// config writes keycdc's configuration. Anything it does not set keeps keycdc's default,
// and the child's environment (KEYCDC_*) overrides it.
func (w *benchWorld) config(pollInterval time.Duration, pageSize int, tables []string) (path string, c *config) {
	w.tb.Helper()
	var extra string
	if pageSize > 0 {
		extra = fmt.Sprintf("  page_size: %d\n", pageSize)
	}
	var sync string
	if len(tables) > 0 {
		sync = fmt.Sprintf("  tables: [%s]\n", strings.Join(tables, ", "))
	}
	body := fmt.Sprintf(`keycloak:
  url: %s
  realms: [%s]
  client_id: keycdc
  client_secret: s3cret
%skafka:
  brokers: [%s]
  replication_factor: 1
schema_registry:
  url: %s
sync:
  poll_interval: %s
%smetrics:
  listen: 127.0.0.1:0
log:
  format: json
`, w.srv.URL, w.realm, extra, strings.Join(w.kafka.ListenAddrs(), ","), w.reg.URL(), pollInterval, sync)
	path = filepath.Join(w.dir, "keycdc.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		w.tb.Fatal(err)
	}
	c, err := loadConfig(path, os.LookupEnv)
	if err != nil {
		w.tb.Fatal(err)
	}
	return path, c
}

// request is one Keycloak request as the twin saw it arrive.
type request struct {
	at    time.Time
	route string
}

// requestLog records the twin's requests and runs a function at the first request of the
// events phase (the end of the initial snapshot).
type requestLog struct {
	mu          sync.Mutex
	reqs        []request
	firstEvents func(at time.Time, index int)
}

func isEventsRoute(route string) bool {
	return strings.HasSuffix(route, "/events") || strings.HasSuffix(route, "/admin-events")
}

func (l *requestLog) record(route string, _ *http.Request) {
	now := time.Now()
	l.mu.Lock()
	l.reqs = append(l.reqs, request{at: now, route: route})
	index := len(l.reqs) - 1
	fn := l.firstEvents
	if fn != nil && isEventsRoute(route) {
		l.firstEvents = nil
	} else {
		fn = nil
	}
	l.mu.Unlock()
	if fn != nil {
		fn(now, index)
	}
}

func (l *requestLog) since(i int) []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs[i:])
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// benchChild is keycdc running as a child process.
type benchChild struct {
	tb    testing.TB
	cmd   *exec.Cmd
	logs  *syncBuffer
	start time.Time
	done  chan struct{}
}

// startKeycdc runs this test binary as keycdc with args. With KEYCDC_BENCH_PROFILE set,
// the child writes its CPU profile to <dir>/<profile>.cpu.pprof.
func (w *benchWorld) startKeycdc(profile string, args ...string) *benchChild {
	w.tb.Helper()
	c := &benchChild{tb: w.tb, logs: &syncBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(os.Environ(), "KEYCDC_TEST_MAIN=1", "KEYCDC_TEST_PPROF=127.0.0.1:0")
	if dir := os.Getenv("KEYCDC_BENCH_PROFILE"); dir != "" && profile != "" {
		c.cmd.Env = append(c.cmd.Env, "KEYCDC_TEST_CPUPROFILE="+filepath.Join(dir, profile+".cpu.pprof"))
	}
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	c.start = time.Now()
	if err := c.cmd.Start(); err != nil {
		w.tb.Fatal(err)
	}
	go func() {
		c.cmd.Wait()
		close(c.done)
	}()
	w.tb.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
		if dir := os.Getenv("KEYCDC_BENCH_PROFILE"); dir != "" && profile != "" {
			os.WriteFile(filepath.Join(dir, profile+".log"), []byte(c.logs.String()), 0o644)
		}
	})
	return c
}

// exited reports whether the child has ended.
func (c *benchChild) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits for the child to end and fails on a non-zero exit.
func (c *benchChild) wait(timeout time.Duration) {
	c.tb.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.cmd.Process.Kill()
		<-c.done
		c.tb.Fatalf("keycdc did not end within %v:\n%s", timeout, tail(c.logs.String()))
	}
	if !c.cmd.ProcessState.Success() {
		c.tb.Fatalf("keycdc: %v\n%s", c.cmd.ProcessState, tail(c.logs.String()))
	}
}

// stop ends a continuous keycdc gracefully.
func (c *benchChild) stop() {
	c.tb.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.wait(time.Minute)
}

// peakRSS returns the child's peak resident set in KB, as it reported it when it ended.
func (c *benchChild) peakRSS() int64 {
	logs := c.logs.String()
	i := strings.LastIndex(logs, peakRSSPrefix)
	if i < 0 {
		c.tb.Fatalf("keycdc did not report its peak RSS:\n%s", tail(logs))
	}
	n, _ := strconv.ParseInt(strings.Fields(logs[i+len(peakRSSPrefix):])[0], 10, 64)
	return n
}

// cpu returns the child's CPU time (after it ended).
func (c *benchChild) cpu() time.Duration {
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// procHWM reads a live process's peak and current resident set in KB.
func procHWM(pid int) (hwm, rss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = n
		case "VmRSS:":
			rss = n
		}
	}
	return hwm, rss
}

// procCPU reads a live process's CPU time (user + system).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// selfCPU is the CPU time of this process: the twin, kfake, srfake and the harness.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// metricsAddr waits for the child to log its metrics address.
func (c *benchChild) metricsAddr(timeout time.Duration) string {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sc := bufio.NewScanner(strings.NewReader(c.logs.String()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Metrics string `json:"metrics"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Metrics != "" {
				return line.Metrics
			}
		}
		if time.Now().After(deadline) || c.exited() {
			c.tb.Fatalf("keycdc logged no metrics address:\n%s", tail(c.logs.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// promSample is one series of a Prometheus text exposition.
type promSample struct {
	name   string
	labels string
	value  float64
}

func scrape(addr string) ([]promSample, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []promSample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		out = append(out, promSample{name: name, labels: labels, value: v})
	}
	return out, sc.Err()
}

func sumSamples(ss []promSample, name string, match func(labels string) bool) float64 {
	var n float64
	for _, s := range ss {
		if s.name == name && (match == nil || match(s.labels)) {
			n += s.value
		}
	}
	return n
}

// lastCycle is the end of the child's last complete cycle (zero before the first).
func lastCycle(ss []promSample) time.Time {
	v := sumSamples(ss, "keycdc_last_cycle_seconds", nil)
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(v*1000 + 0.5))
}

func isEventTable(labels string) bool {
	return strings.Contains(labels, `table="event"`) || strings.Contains(labels, `table="admin_event"`)
}

// heapInUse asks the child for a heap profile after a GC, saves it when profiling, and
// returns the in-use heap in bytes.
func (c *benchChild) heapInUse(save string) int64 {
	logs := c.logs.String()
	i := strings.Index(logs, profileAddrPrefix)
	if i < 0 {
		c.tb.Fatalf("keycdc did not report its profile endpoint:\n%s", tail(logs))
	}
	addr := strings.Fields(logs[i+len(profileAddrPrefix):])[0]
	resp, err := http.Get("http://" + addr + "/heap")
	if err != nil {
		c.tb.Logf("heap profile: %v", err)
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	n, _ := strconv.ParseInt(resp.Header.Get("X-Heap-Inuse"), 10, 64)
	if dir := os.Getenv("KEYCDC_BENCH_PROFILE"); dir != "" && save != "" {
		if err := os.WriteFile(filepath.Join(dir, save+".heap.pprof"), body, 0o644); err != nil {
			c.tb.Logf("heap profile: %v", err)
		}
	}
	return n
}

// realmRun says how to measure a realm.
type realmRun struct {
	latency      time.Duration
	pollInterval time.Duration
	quietCycles  int
	changes      int
	pageSize     int  // 0: keycdc's default (or KEYCDC_KEYCLOAK_PAGE_SIZE)
	check        bool // compare the topics with the realm after the first cycle
	profile      string
}

// quietCycle is one cycle in which nothing changed.
type quietCycle struct {
	calls int
	dur   time.Duration
}

// realmFigures are one realm's measurements.
type realmFigures struct {
	realm    string
	pageSize int
	bound    lowerBound
	// The realm's content.
	entityRows, eventRows int

	// The first cycle: the snapshot ends when the first events request arrives.
	snapshotWall, cycleWall        time.Duration
	snapshotCalls, eventCalls      int
	snapshotRoutes                 map[string]int
	entityRecords, eventRecords    int
	rssSnapshotKB, rssPeakKB       int64
	heapAfterCycle                 int64
	cpuSnapshot, cpuSnapshotOthers time.Duration

	quiet     []quietCycle
	latencies []time.Duration
	missing   int

	childCPU, othersCPU time.Duration
	// mem is the child's resident set at the end of each phase.
	mem []phaseMem
}

// phaseMem is the child's peak and current resident set at the end of a phase, in KB.
type phaseMem struct {
	phase     string
	peak, now int64
}

func phaseRSS(c *benchChild, phase string) phaseMem {
	hwm, rss := procHWM(c.cmd.Process.Pid)
	return phaseMem{phase: phase, peak: hwm, now: rss}
}

// measureRealm runs one realm through its first cycle, quiet cycles and timed changes.
func measureRealm(tb testing.TB, spec kctwin.GenerateSpec, run realmRun) *realmFigures {
	tb.Helper()
	w := newBenchWorld(tb, spec, run.latency)
	d, err := w.twin.DumpRealm(spec.Name)
	if err != nil {
		tb.Fatal(err)
	}
	cfgPath, cfg := w.config(run.pollInterval, run.pageSize, nil)
	f := &realmFigures{realm: spec.Name, pageSize: cfg.Keycloak.PageSize}
	f.bound = snapshotLowerBound(d, cfg.Keycloak.PageSize)
	f.entityRows, f.eventRows = realmRows(d)
	humans := make([]string, 0, len(d.Users))
	for _, u := range d.Users {
		if u.ServiceAccountClientID == "" {
			humans = append(humans, u.ID)
		}
	}
	d = kctwin.RealmDump{}

	type boundary struct {
		at          time.Time
		calls       int
		hwm         int64
		cpu, others time.Duration
		routes      map[string]int
	}
	var snap atomic.Pointer[boundary]
	var pid atomic.Int64
	othersStart := selfCPU()
	w.log.mu.Lock()
	w.log.firstEvents = func(at time.Time, index int) {
		p := int(pid.Load())
		hwm, _ := procHWM(p)
		bd := &boundary{at: at, calls: index, hwm: hwm, cpu: procCPU(p), others: selfCPU() - othersStart, routes: map[string]int{}}
		for _, r := range w.log.since(0)[:index] {
			bd.routes[r.route]++
		}
		snap.Store(bd)
	}
	w.log.mu.Unlock()

	c := w.startKeycdc(run.profile, "run", "--config", cfgPath)
	pid.Store(int64(c.cmd.Process.Pid))
	addr := c.metricsAddr(time.Minute)

	// The first cycle. Scraping costs keycdc CPU, so it is done a few times per poll
	// interval only: often enough to see every cycle end (the gauge holds its time).
	scrapeEvery := run.pollInterval / 5
	var ss []promSample
	for {
		if ss, err = scrape(addr); err == nil && !lastCycle(ss).IsZero() {
			break
		}
		if c.exited() {
			tb.Fatalf("keycdc ended during its first cycle:\n%s", tail(c.logs.String()))
		}
		time.Sleep(scrapeEvery)
	}
	bd := snap.Load()
	if bd == nil {
		tb.Fatalf("the first cycle ended without an events request")
	}
	first := lastCycle(ss)
	f.snapshotWall, f.cycleWall = bd.at.Sub(c.start), first.Sub(c.start)
	f.snapshotCalls, f.snapshotRoutes = bd.calls, bd.routes
	f.rssSnapshotKB, f.cpuSnapshot, f.cpuSnapshotOthers = bd.hwm, bd.cpu, bd.others
	for _, r := range w.log.since(bd.calls) {
		if !r.at.After(first) && isEventsRoute(r.route) {
			f.eventCalls++
		}
	}
	f.entityRecords = int(sumSamples(ss, "keycdc_records_total", func(l string) bool { return !isEventTable(l) }))
	f.eventRecords = int(sumSamples(ss, "keycdc_records_total", isEventTable))
	f.heapAfterCycle = c.heapInUse(run.profile)
	f.mem = append(f.mem, phaseRSS(c, "first cycle"))
	if run.check {
		s := &stack{t: tb.(*testing.T), kafka: w.kafka, reg: w.reg, twin: w.twin}
		if diff := s.diff(spec.Name, s.read(spec.Name)); diff != "" {
			tb.Fatalf("after the first cycle the topics differ from the realm:\n%s", diff)
		}
	}

	// Quiet cycles: nothing changes in the twin; each cycle's calls are the requests after
	// the previous cycle ended, its duration runs from the first of them to its end.
	ends := []time.Time{first}
	for len(ends) <= run.quietCycles {
		if c.exited() {
			tb.Fatalf("keycdc ended:\n%s", tail(c.logs.String()))
		}
		time.Sleep(scrapeEvery)
		ss, err := scrape(addr)
		if err != nil {
			continue
		}
		if lc := lastCycle(ss); lc.After(ends[len(ends)-1]) {
			ends = append(ends, lc)
		}
	}
	reqs := w.log.since(bd.calls)
	for k := 1; k < len(ends); k++ {
		var q quietCycle
		var start time.Time
		for _, r := range reqs {
			// The cycle end has millisecond resolution: a request in that millisecond
			// belongs to the cycle that ended there.
			if r.at.Truncate(time.Millisecond).After(ends[k-1]) && !r.at.Truncate(time.Millisecond).After(ends[k]) {
				if q.calls == 0 {
					start = r.at
				}
				q.calls++
			}
		}
		if q.calls > 0 {
			q.dur = ends[k].Sub(start.Truncate(time.Millisecond)) + time.Millisecond/2
		}
		f.quiet = append(f.quiet, q)
	}

	f.mem = append(f.mem, phaseRSS(c, "quiet cycles"))

	// Changes: a user's first name is set to a unique marker at random moments; the
	// delay runs until a read_committed consumer sees the user's record with it.
	f.latencies, f.missing = timeChanges(tb, w, humans, run.changes)
	f.mem = append(f.mem, phaseRSS(c, "changes"))

	c.stop()
	f.rssPeakKB = c.peakRSS()
	f.childCPU = c.cpu()
	f.othersCPU = selfCPU() - othersStart
	return f
}

// timeChanges makes n changes and returns the delay of each until it was committed.
func timeChanges(tb testing.TB, w *benchWorld, users []string, n int) ([]time.Duration, int) {
	tb.Helper()
	if n == 0 {
		return nil, 0
	}
	topic := topics.Name("keycloak", w.realm, schemas.User)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.kafka.ListenAddrs()...), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		tb.Fatal(err)
	}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { from[o.Partition] = kgo.NewOffset().At(o.Offset) })
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: from})

	const prefix = "zqlat-"
	made := make([]time.Time, n)
	var mu sync.Mutex
	seen := map[int]time.Duration{}
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				i := bytes.Index(r.Value, []byte(prefix))
				if i < 0 || i+len(prefix)+6 > len(r.Value) {
					return
				}
				k, err := strconv.Atoi(string(r.Value[i+len(prefix) : i+len(prefix)+6]))
				if err != nil || k < 0 || k >= n {
					return
				}
				mu.Lock()
				if _, ok := seen[k]; !ok {
					seen[k] = now.Sub(made[k])
				}
				mu.Unlock()
			})
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	for k := 0; k < n; k++ {
		time.Sleep(time.Duration(100+rng.IntN(800)) * time.Millisecond)
		id := users[rng.IntN(len(users))]
		mu.Lock()
		made[k] = time.Now()
		mu.Unlock()
		name := fmt.Sprintf("%s%06d", prefix, k)
		if err := w.twin.UpdateUser(w.realm, id, func(u *kctwin.UserInput) { u.FirstName = name }); err != nil {
			tb.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-consumed
	mu.Lock()
	defer mu.Unlock()
	out := make([]time.Duration, 0, len(seen))
	for _, d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, n - len(seen)
}

// eventsFigures are one events run's measurements.
type eventsFigures struct {
	realm     string
	records   int
	want      int
	dur       time.Duration
	calls     int
	childCPU  time.Duration
	othersCPU time.Duration
	rssPeakKB int64
}

// measureEvents runs keycdc run --once, writing only the event tables, with no latency,
// and times the events phase: from the first events request to the end of the process.
func measureEvents(tb testing.TB, spec kctwin.GenerateSpec, profile string) *eventsFigures {
	tb.Helper()
	w := newBenchWorld(tb, spec, 0)
	d, err := w.twin.DumpRealm(spec.Name)
	if err != nil {
		tb.Fatal(err)
	}
	want := len(expected.Events(d, "keycdc")) + len(d.AdminEvents)
	d = kctwin.RealmDump{}
	cfgPath, _ := w.config(time.Second, 0, []string{"event", "admin_event"})
	var startAt atomic.Pointer[time.Time]
	var startCPU atomic.Int64
	var mark atomic.Int64
	w.log.mu.Lock()
	w.log.firstEvents = func(at time.Time, index int) {
		startAt.Store(&at)
		startCPU.Store(int64(selfCPU()))
		mark.Store(int64(index))
	}
	w.log.mu.Unlock()
	c := w.startKeycdc(profile, "run", "--once", "--config", cfgPath)
	c.wait(30 * time.Minute)
	end := time.Now()
	at := startAt.Load()
	if at == nil {
		tb.Fatal("keycdc read no events")
	}
	f := &eventsFigures{realm: spec.Name, want: want, dur: end.Sub(*at), childCPU: c.cpu(), rssPeakKB: c.peakRSS(),
		othersCPU: selfCPU() - time.Duration(startCPU.Load()), calls: w.log.len() - int(mark.Load())}
	f.records = countRecords(tb, w, topics.Name("keycloak", spec.Name, schemas.Event), topics.Name("keycloak", spec.Name, schemas.AdminEvent))
	return f
}

// countRecords counts the records a read_committed reader sees in the topics.
func countRecords(tb testing.TB, w *benchWorld, names ...string) int {
	tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(w.kafka.ListenAddrs()...)}, topics.ReplayOpts()...)...)
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := 0
	if err := topics.Replay(ctx, cl, names, func(*kgo.Record) error { n++; return nil }); err != nil {
		tb.Fatal(err)
	}
	return n
}

// lowerBound is the fewest Admin API requests that read a realm's entities at a page size:
// one request per page of every listing keycdc needs, and the per-entity requests for which
// Keycloak has no listing. See BENCHMARKS.md for the reasoning.
type lowerBound struct {
	users, groups, children, members, roleUsers, realmRoles, clientRoles, clients, composites, serviceAccounts, token int
}

func (l lowerBound) total() int {
	return l.users + l.groups + l.children + l.members + l.roleUsers + l.realmRoles + l.clientRoles + l.clients +
		l.composites + l.serviceAccounts + l.token
}

func pages(n, size int) int { return max(1, (n+size-1)/size) }

func snapshotLowerBound(d kctwin.RealmDump, p int) lowerBound {
	var b lowerBound
	b.token = 1
	b.users = pages(len(d.Users), p)
	b.groups = 1 // the top level, unpaged
	children := map[string]int{}
	for _, g := range d.Groups {
		if g.ParentID != "" {
			children[g.ParentID]++
		}
	}
	for _, n := range children {
		b.children += pages(n, p)
	}
	members := map[string]int{}
	realmHolders := map[string]int{}
	clientHolders := map[[2]string]int{}
	for _, u := range d.Users {
		for _, g := range u.Groups {
			members[g]++
		}
		for _, r := range u.RealmRoles {
			realmHolders[r]++
		}
		for c, rs := range u.ClientRoles {
			for _, r := range rs {
				clientHolders[[2]string{c, r}]++
			}
		}
	}
	for _, g := range d.Groups {
		b.members += pages(members[g.ID], p)
	}
	b.realmRoles = 1
	for _, r := range d.Roles {
		if r.ClientRole {
			b.roleUsers += pages(clientHolders[[2]string{r.ClientID, r.Name}], p)
		} else {
			b.roleUsers += pages(realmHolders[r.Name], p)
		}
		if r.Composite {
			b.composites++
		}
	}
	b.clients = 1
	b.clientRoles = len(d.Clients)
	for _, c := range d.Clients {
		if c.ServiceAccountsEnabled {
			b.serviceAccounts++
		}
	}
	return b
}

// realmRows counts the rows of a realm's entity tables and its events, as keycdc writes
// them (keycdc's own client logins left out).
func realmRows(d kctwin.RealmDump) (entities, events int) {
	entities = len(d.Users) + len(d.Groups) + len(d.Roles) + len(d.Clients)
	for _, r := range d.Roles {
		entities += len(r.Composites)
	}
	for _, u := range d.Users {
		seen := map[[2]string]bool{}
		for k, vs := range u.Attributes {
			for _, v := range vs {
				seen[[2]string{k, v}] = true
			}
		}
		acts := map[string]bool{}
		for _, a := range u.RequiredActions {
			acts[a] = true
		}
		entities += len(seen) + len(acts) + len(u.RealmRoles) + len(u.Groups)
		for _, rs := range u.ClientRoles {
			entities += len(rs)
		}
	}
	for _, e := range d.Events {
		if !(e.Type == "CLIENT_LOGIN" && e.ClientID == "keycdc") {
			events++
		}
	}
	return entities, events + len(d.AdminEvents)
}

// routeCategory maps a twin route to a lower-bound category.
func routeCategory(route string) string {
	const a = "GET /admin/realms/{realm}"
	switch route {
	case a + "/users":
		return "users"
	case a + "/groups":
		return "groups"
	case a + "/groups/{id}/children":
		return "children"
	case a + "/groups/{id}/members":
		return "members"
	case a + "/roles/{name}/users", a + "/clients/{id}/roles/{name}/users":
		return "role users"
	case a + "/roles":
		return "realm roles"
	case a + "/clients/{id}/roles":
		return "client roles"
	case a + "/clients":
		return "clients"
	case a + "/roles-by-id/{id}/composites":
		return "composites"
	case a + "/clients/{id}/service-account-user":
		return "service accounts"
	case "POST /realms/{realm}/protocol/openid-connect/token":
		return "token"
	}
	return "other: " + strings.TrimPrefix(route, a)
}

func (f *realmFigures) routeTable() string {
	got := map[string]int{}
	for r, n := range f.snapshotRoutes {
		got[routeCategory(r)] += n
	}
	b := f.bound
	want := map[string]int{"users": b.users, "groups": b.groups, "children": b.children, "members": b.members,
		"role users": b.roleUsers, "realm roles": b.realmRoles, "client roles": b.clientRoles, "clients": b.clients,
		"composites": b.composites, "service accounts": b.serviceAccounts, "token": b.token}
	names := make([]string, 0, len(got)+len(want))
	for k := range want {
		names = append(names, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-30s %8s %8s\n", "snapshot requests", "made", "bound")
	for _, k := range names {
		fmt.Fprintf(&sb, "%-30s %8d %8d\n", k, got[k], want[k])
	}
	fmt.Fprintf(&sb, "%-30s %8d %8d\n", "total", f.snapshotCalls, b.total())
	return sb.String()
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(p*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// report logs the figures and, in a benchmark, reports the headline ones as metrics.
func (f *realmFigures) report(tb testing.TB) {
	metric := func(v float64, unit string) {
		if b, ok := tb.(*testing.B); ok {
			b.ReportMetric(v, unit)
		}
	}
	metric(f.snapshotWall.Seconds(), "s/snapshot")
	metric(float64(f.snapshotCalls), "calls/snapshot")
	metric(float64(f.snapshotCalls)/float64(f.bound.total()), "x-lower-bound")
	metric(float64(f.entityRecords)/f.snapshotWall.Seconds(), "rows/s")
	metric(float64(f.rssSnapshotKB)/1024, "MB-rss-snapshot")
	metric(float64(f.rssPeakKB)/1024, "MB-rss-peak")
	metric(float64(f.heapAfterCycle)/float64(f.entityRows), "heap-B/row")
	metric(f.cycleWall.Seconds(), "s/first-cycle")
	var qc, qd float64
	for _, q := range f.quiet {
		qc += float64(q.calls)
		qd = max(qd, float64(q.dur.Microseconds())/1000)
	}
	if len(f.quiet) > 0 {
		metric(qc/float64(len(f.quiet)), "calls/quiet-cycle")
		metric(qd, "ms-max/quiet-cycle")
	}
	metric(float64(percentile(f.latencies, 0.5).Milliseconds()), "ms-p50-change")
	metric(float64(percentile(f.latencies, 0.99).Milliseconds()), "ms-p99-change")
	var sb strings.Builder
	fmt.Fprintf(&sb, "realm %s, page size %d: %d entity rows, %d events\n", f.realm, f.pageSize, f.entityRows, f.eventRows)
	fmt.Fprintf(&sb, "snapshot: %v, %d calls (lower bound %d, %.3fx), %d records (%.0f/s), peak RSS %.0f MB, keycdc CPU %v, twin+kafka CPU %v\n",
		f.snapshotWall.Round(time.Millisecond), f.snapshotCalls, f.bound.total(), float64(f.snapshotCalls)/float64(f.bound.total()),
		f.entityRecords, float64(f.entityRecords)/f.snapshotWall.Seconds(), float64(f.rssSnapshotKB)/1024,
		f.cpuSnapshot.Round(10*time.Millisecond), f.cpuSnapshotOthers.Round(10*time.Millisecond))
	sb.WriteString(f.routeTable())
	evWall := f.cycleWall - f.snapshotWall
	fmt.Fprintf(&sb, "first cycle: %v; events phase %v, %d event records (%.0f/s with latency), %d calls\n",
		f.cycleWall.Round(time.Millisecond), evWall.Round(time.Millisecond), f.eventRecords,
		float64(f.eventRecords)/evWall.Seconds(), f.eventCalls)
	fmt.Fprintf(&sb, "heap in use after the first cycle: %.1f MB (%.0f B per entity row)\n", float64(f.heapAfterCycle)/(1<<20),
		float64(f.heapAfterCycle)/float64(f.entityRows))
	for i, q := range f.quiet {
		fmt.Fprintf(&sb, "quiet cycle %d: %d calls, %v\n", i+1, q.calls, q.dur.Round(100*time.Microsecond))
	}
	fmt.Fprintf(&sb, "changes: %d timed, %d missing; p50 %v, p99 %v, max %v\n", len(f.latencies), f.missing,
		percentile(f.latencies, 0.5).Round(time.Millisecond), percentile(f.latencies, 0.99).Round(time.Millisecond),
		percentile(f.latencies, 1).Round(time.Millisecond))
	for _, m := range f.mem {
		fmt.Fprintf(&sb, "after %s: keycdc RSS %.0f MB, peak so far %.0f MB\n", m.phase, float64(m.now)/1024, float64(m.peak)/1024)
	}
	fmt.Fprintf(&sb, "whole run: keycdc peak RSS %.0f MB, CPU %v; twin+kafka CPU %v\n", float64(f.rssPeakKB)/1024,
		f.childCPU.Round(10*time.Millisecond), f.othersCPU.Round(10*time.Millisecond))
	tb.Log("\n" + sb.String())
}

func (f *eventsFigures) report(tb testing.TB) {
	if b, ok := tb.(*testing.B); ok {
		b.ReportMetric(float64(f.records)/f.dur.Seconds(), "events/s")
		b.ReportMetric(f.dur.Seconds(), "s/events")
		b.ReportMetric(float64(f.rssPeakKB)/1024, "MB-rss-peak")
	}
	tb.Logf("\nrealm %s: %d of %d events in %v (%.0f/s), %d calls; keycdc CPU %v (whole run), twin+kafka CPU %v (events phase), peak RSS %.0f MB",
		f.realm, f.records, f.want, f.dur.Round(time.Millisecond), float64(f.records)/f.dur.Seconds(), f.calls,
		f.childCPU.Round(10*time.Millisecond), f.othersCPU.Round(10*time.Millisecond), float64(f.rssPeakKB)/1024)
}
