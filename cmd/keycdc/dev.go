package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/poller"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

// devSecret is the embedded twin's client secret: a demo value, printed at start.
const devSecret = "keycdc-dev-secret"

func cmdDev(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("dev", e)
	kafkaAddr := fs.String("kafka-addr", "127.0.0.1:9092", "address of the embedded Kafka broker (127.0.0.1 only)")
	regAddr := fs.String("registry-addr", "127.0.0.1:8081", "address of the embedded schema registry")
	kcAddr := fs.String("keycloak-addr", "127.0.0.1:8080", "address of the embedded Keycloak twin")
	dir := fs.String("data-dir", ".keycdc", "where the embedded broker keeps its data; delete it to start afresh")
	kcURL := fs.String("keycloak-url", "", "poll this real Keycloak instead of the embedded twin (with --realm, --client-id, --client-secret)")
	realm := fs.String("realm", "acme", "realm to poll")
	clientID := fs.String("client-id", "keycdc", "client of keycdc's service account")
	clientSecret := fs.String("client-secret", "", "its secret (with --keycloak-url; else KEYCDC_KEYCLOAK_CLIENT_SECRET)")
	users := fs.Int("users", 3000, "users in the twin's demo realm")
	activity := fs.String("activity", "events=5,changes=1", "the twin's live activity per second (events=N,changes=N; events=0,changes=0 for none)")
	version := fs.String("keycloak-version", "26.2", "Keycloak version the twin emulates (26.2 or 25.0)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "address of /metrics, /healthz and /tables (empty: off)")
	dsn := fs.String("postgres-dsn", "", "load the topics into this PostgreSQL (default: a JSON file in the data directory)")
	every := fs.Duration("progress", 5*time.Second, "how often to print progress")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *kcURL != "" && *clientSecret == "" && !hasEnv(e, "KEYCDC_KEYCLOAK_CLIENT_SECRET") {
		return usagef("--keycloak-url needs --client-secret (or KEYCDC_KEYCLOAK_CLIENT_SECRET)")
	}
	act, err := kctwin.ParseActivitySpec(*activity)
	if err != nil {
		return usagef("--activity: %v", err)
	}
	if *users < 1 {
		return usagef("--users: want at least 1")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// 1. Kafka and the registry, in their own process.
	infra, kafka, registry, err := startInfra(*kafkaAddr, *regAddr, *dir)
	if err != nil {
		return err
	}
	defer infra.stop()

	// 2. Keycloak: the twin, unless a real one is given.
	c, err := loadConfig("", e.lookupEnv)
	if err != nil {
		return err
	}
	c.Keycloak.Realms = []string{*realm}
	c.Keycloak.ClientID = *clientID
	c.Kafka.Brokers = []string{kafka}
	c.Kafka.Partitions, c.Kafka.ReplicationFactor = 1, 1
	c.SchemaRegistry.URL = registry
	c.Sync.PollInterval = 2 * time.Second
	c.Sync.FullScanInterval = 10 * time.Minute
	c.Metrics.Listen = *metricsAddr
	var twinURL string
	if *kcURL != "" {
		c.Keycloak.URL = *kcURL
		if *clientSecret != "" {
			c.Keycloak.ClientSecret = secret(*clientSecret)
		}
	} else {
		url, stop, err := startTwin(*kcAddr, *dir, *realm, *users, *version, act)
		if err != nil {
			return err
		}
		defer stop()
		twinURL = url
		c.Keycloak.URL = url
		c.Keycloak.ClientSecret = devSecret
	}
	if err := c.validate(needKeycloak | needKafka | needRegistry); err != nil {
		return err
	}

	// 3. The pipeline.
	tel, err := startTelemetry(c, log)
	if err != nil {
		return err
	}
	defer tel.close()
	p, err := newPipeline(ctx, c, log, tel, false)
	if err != nil {
		return err
	}
	defer p.close()

	// 4. The sink, loading what the pipeline commits.
	c.Postgres.DSN = secret(*dsn)
	c.Sink.GroupID = "keycdc-dev-sink"
	ds, err := newDevSink(ctx, c, *dir, log, tel)
	if err != nil {
		return err
	}
	defer ds.close()
	printBanner(e.stdout, c, twinURL, tel.addr(), *dir, ds.where)

	runCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	runErr := make(chan error, 2)
	go func() { runErr <- p.run(runCtx) }()
	go func() { runErr <- ds.runner.Run(runCtx) }()

	tick := time.NewTicker(*every)
	defer tick.Stop()
	prog := &progress{}
	for {
		select {
		case err := <-runErr:
			stopAll()
			if err2 := <-runErr; err == nil {
				err = err2
			}
			if err == nil {
				fmt.Fprintln(e.stdout, "keycdc dev stopped; start it again to resume where it was.")
			}
			return err
		case <-tick.C:
			prog.print(e.stdout, p.statuses(), ds.rows, time.Now())
		}
	}
}

// infraProcess is the dev-infra child.
type infraProcess struct{ cmd *exec.Cmd }

// startInfra starts Kafka and the registry in a child process of their own process group:
// Ctrl-C in the terminal reaches keycdc dev only, which stops the pipeline first and the
// broker last; if keycdc dev dies, the kernel sends the child SIGTERM, a clean stop.
func startInfra(kafkaAddr, regAddr, dir string) (*infraProcess, string, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", "", err
	}
	cmd := exec.Command(self, "dev-infra", "--kafka-addr", kafkaAddr, "--registry-addr", regAddr, "--data-dir", dir)
	cmd.Env = append(os.Environ(), "KEYCDC_TEST_MAIN=1") // lets a test binary act as keycdc; keycdc ignores it
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", "", err
	}
	var errb strings.Builder
	cmd.Stderr = &limitedWriter{w: &errb, n: 4096}
	if err := cmd.Start(); err != nil {
		return nil, "", "", fmt.Errorf("start the embedded Kafka: %w", err)
	}
	p := &infraProcess{cmd: cmd}
	kafka, registry, err := readyLine(out, 30*time.Second)
	if err != nil {
		p.stop()
		return nil, "", "", fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	return p, kafka, registry, nil
}

// stop ends the broker cleanly (SIGTERM), so that its data directory is whole.
func (p *infraProcess) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}

// startTwin serves a demo realm. Its content is generated from a fixed seed at a fixed
// instant (stored in the data directory), so that a restarted demo holds the same realm.
func startTwin(addr, dir, realm string, users int, version string, act kctwin.Activity) (string, func(), error) {
	anchor, err := devAnchor(dir)
	if err != nil {
		return "", nil, err
	}
	var live atomic.Bool
	clock := func() time.Time {
		if live.Load() {
			return time.Now()
		}
		return anchor
	}
	tw, err := kctwin.New(kctwin.KeycloakVersion(version), kctwin.Clock(clock))
	if err != nil {
		return "", nil, fmt.Errorf("--keycloak-version: %w", err)
	}
	spec := kctwin.GenerateSpec{Name: realm, Users: users, Groups: max(3, users/50), Roles: 20, Clients: 8,
		Events: users * 3, AdminEvents: users / 3, Seed: 1}
	if err := tw.Generate(spec); err != nil {
		tw.Close()
		return "", nil, err
	}
	if err := tw.SetPollerSecret(realm, devSecret); err != nil {
		tw.Close()
		return "", nil, err
	}
	live.Store(true)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tw.Close()
		return "", nil, fmt.Errorf("Keycloak twin on %s: %w (pick another --keycloak-addr)", addr, err)
	}
	srv := &http.Server{Handler: tw, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	if act.EventsPerSecond > 0 || act.ChangesPerSecond > 0 {
		act.Realm = realm
		if err := tw.StartActivity(act); err != nil {
			srv.Close()
			tw.Close()
			return "", nil, err
		}
	}
	stop := func() {
		tw.StopActivity()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		tw.Close()
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// devAnchor returns the instant the demo realm was first generated at.
func devAnchor(dir string) (time.Time, error) {
	p := filepath.Join(dir, "twin-anchor")
	if b, err := os.ReadFile(p); err == nil {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w (delete the data directory to start afresh)", p, err)
		}
		return t, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return time.Time{}, err
	}
	t := time.Now().UTC()
	return t, os.WriteFile(p, []byte(t.Format(time.RFC3339Nano)+"\n"), 0o644)
}

func printBanner(w io.Writer, c *config, twinURL, metrics, dir, sink string) {
	realm := c.Keycloak.Realms[0]
	user := topics.Name(c.Kafka.TopicPrefix, realm, schemas.User)
	fmt.Fprintf(w, "keycdc dev: the pipeline runs on an embedded Kafka and schema registry.\n\n")
	fmt.Fprintf(w, "  Kafka bootstrap   %s\n", c.Kafka.Brokers[0])
	fmt.Fprintf(w, "  Schema registry   %s\n", c.SchemaRegistry.URL)
	if twinURL != "" {
		fmt.Fprintf(w, "  Keycloak (twin)   %s  realm %s; client %s, secret %s; admin user admin/admin in realm master\n",
			twinURL, realm, c.Keycloak.ClientID, devSecret)
	} else {
		fmt.Fprintf(w, "  Keycloak          %s  realm %s; client %s\n", c.Keycloak.URL, realm, c.Keycloak.ClientID)
	}
	if metrics != "" {
		fmt.Fprintf(w, "  Metrics           http://%s/metrics\n", metrics)
	}
	fmt.Fprintf(w, "  Sink              %s\n", sink)
	if metrics != "" && c.Postgres.DSN == "" {
		fmt.Fprintf(w, "  Query the sink    curl -s http://%s/tables/%s/user | head\n", metrics, realm)
	}
	fmt.Fprintf(w, "  Data              %s (delete it to start afresh)\n\n", dir)
	fmt.Fprintf(w, "Topics are %s.%s.<table>. Read one in another terminal:\n", c.Kafka.TopicPrefix, realm)
	fmt.Fprintf(w, "  kcat -b %s -X isolation.level=read_committed -C -t %s -e -s value=avro -r %s\n", c.Kafka.Brokers[0], user, c.SchemaRegistry.URL)
	fmt.Fprintf(w, "  (a kcat built without Avro, like Debian's: kcat -b %s -X isolation.level=read_committed -C -t %s -e -f '%%o %%k %%S bytes\\n')\n\n",
		c.Kafka.Brokers[0], user)
	fmt.Fprintf(w, "Progress every few seconds; Ctrl-C stops cleanly, and keycdc dev resumes where it stopped.\n")
}

// progress prints per-realm progress lines: records committed by table since start, the
// change since the last line, and how fresh the event topics are.
type progress struct{ last map[string]int64 }

func (pr *progress) print(w io.Writer, sts []poller.Status, sinkRows func() (int, error), now time.Time) {
	if pr.last == nil {
		pr.last = map[string]int64{}
	}
	for _, st := range sts {
		var total int64
		var parts []string
		tables := make([]string, 0, len(st.Records))
		for t := range st.Records {
			tables = append(tables, t)
		}
		sort.Strings(tables)
		for _, t := range tables {
			n := st.Records[t]
			total += n
			k := st.Realm + "/" + t
			if d := n - pr.last[k]; d > 0 {
				parts = append(parts, fmt.Sprintf("%s +%d", t, d))
			}
			pr.last[k] = n
		}
		line := fmt.Sprintf("%s  %s: %d records written", now.Format("15:04:05"), st.Realm, total)
		if len(parts) > 0 {
			line += " (" + strings.Join(parts, ", ") + ")"
		}
		if !st.EventsCaughtUp.IsZero() {
			line += fmt.Sprintf("; events current to %s ago", now.Sub(st.EventsCaughtUp).Round(100*time.Millisecond))
		}
		if st.LastError != "" {
			line += "; last error: " + st.LastError
		}
		fmt.Fprintln(w, line)
	}
	if sinkRows != nil {
		if n, err := sinkRows(); err == nil {
			fmt.Fprintf(w, "%s  sink: %d rows\n", now.Format("15:04:05"), n)
		}
	}
}

// hasEnv reports whether the variable is set to something.
func hasEnv(e env, key string) bool {
	v, _ := e.lookupEnv(key)
	return v != ""
}
