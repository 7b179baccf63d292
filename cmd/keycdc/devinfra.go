package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// cmdDevInfra is the process that keycdc dev starts for the embedded Kafka broker and
// schema registry. It lives apart from the pipeline so that a crash of the pipeline never
// kills the broker mid-write: the broker only ever stops through a clean Close, which is
// what lets its data directory come back whole (see dependencies: kfake after SIGKILL).
// It prints one "ready" line on stdout and serves until ctx ends (SIGTERM).
func cmdDevInfra(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("dev-infra", e)
	kafkaAddr := fs.String("kafka-addr", "127.0.0.1:9092", "broker address (always 127.0.0.1)")
	regAddr := fs.String("registry-addr", "127.0.0.1:8081", "schema registry address")
	dir := fs.String("data-dir", ".keycdc", "data directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	port, err := loopbackPort(*kafkaAddr)
	if err != nil {
		return usagef("--kafka-addr: %v", err)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(filepath.Join(*dir, "kafka")),
		kfake.ClusterID("keycdc-dev"))
	if err != nil {
		return fmt.Errorf("embedded Kafka on %s: %w (is another keycdc dev running? pick another --kafka-addr)", *kafkaAddr, err)
	}
	defer cluster.Close()
	reg, err := newJournaledRegistry(filepath.Join(*dir, "registry.jsonl"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *regAddr)
	if err != nil {
		return fmt.Errorf("embedded schema registry on %s: %w (pick another --registry-addr)", *regAddr, err)
	}
	srv := &http.Server{Handler: reg, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(e.stdout, "ready kafka=%s registry=http://%s\n", cluster.ListenAddrs()[0], ln.Addr())
	<-ctx.Done()
	return nil
}

func loopbackPort(addr string) (int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	if host != "127.0.0.1" && host != "localhost" {
		return 0, fmt.Errorf("the embedded broker listens on 127.0.0.1 only, not %s", host)
	}
	return strconv.Atoi(p)
}

// journaledRegistry is srfake with its registrations appended to a file and replayed at
// start, so that schema ids survive a restart of keycdc dev and the records already in
// Kafka still decode.
type journaledRegistry struct {
	reg  *srfake.Registry
	path string
	mu   sync.Mutex
}

type journalEntry struct {
	Subject string    `json:"subject"`
	Version int       `json:"version"`
	ID      int       `json:"id"`
	Schema  sr.Schema `json:"schema"`
}

func newJournaledRegistry(path string) (*journaledRegistry, error) {
	j := &journaledRegistry{reg: srfake.NewRegistry(), path: path}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var e journalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s line %d: %w (delete the data directory to start afresh)", path, line, err)
		}
		k := fmt.Sprintf("%s/%d", e.Subject, e.Version)
		if seen[k] {
			continue
		}
		seen[k] = true
		j.reg.SeedSchema(e.Subject, e.Version, e.ID, e.Schema)
	}
	return j, sc.Err()
}

func (j *journaledRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.reg.Handler().ServeHTTP(w, r)
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/subjects/") || !strings.HasSuffix(r.URL.Path, "/versions") {
		return
	}
	subject := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/subjects/"), "/versions")
	latest, ok := j.reg.GetSchema(subject, -1)
	if !ok {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	b, _ := json.Marshal(journalEntry{Subject: subject, Version: latest.Version, ID: latest.ID, Schema: latest.Schema})
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(b, '\n'))
	f.Sync()
}

// readyLine waits for the dev-infra process's "ready" line.
func readyLine(r io.Reader, timeout time.Duration) (kafka, registry string, err error) {
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if strings.HasPrefix(l, "ready ") {
				lines <- l
				io.Copy(io.Discard, br)
				return
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			return "", "", errors.New("the embedded Kafka and registry process exited before it was ready")
		}
		for _, f := range strings.Fields(l)[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "kafka":
				kafka = v
			case "registry":
				registry = v
			}
		}
		return kafka, registry, nil
	case <-time.After(timeout):
		return "", "", errors.New("the embedded Kafka and registry did not start in time")
	}
}
