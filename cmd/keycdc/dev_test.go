package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/keycdc/keycdc/internal/expected"
	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/sinks/jsonfile"
	"github.com/keycdc/keycdc/topics"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// committedRecords reads every data topic of realm acme with read_committed and returns
// the records by position.
func committedRecords(t *testing.T, broker string) map[string]string {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(broker)}, topics.ReplayOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var names []string
	for _, tb := range schemas.Tables() {
		names = append(names, topics.Name("keycloak", "acme", tb))
	}
	out := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = topics.Replay(ctx, cl, names, func(r *kgo.Record) error {
		out[fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)] = string(r.Key) + "\x00" + string(r.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keycdc dev shows data within a minute, stops cleanly on Ctrl-C, and a restart — after a
// clean stop or after keycdc dev itself was killed — still shows every record committed
// before, resuming rather than starting over.
func TestDevResumesWithEveryCommittedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo three times: skipped with -short")
	}
	dir := t.TempDir()
	kafka, registry := freePort(t), freePort(t)
	args := []string{"dev", "--data-dir", dir, "--kafka-addr", kafka, "--registry-addr", registry,
		"--keycloak-addr", freePort(t), "--metrics-addr", "", "--users", "300", "--progress", "500ms",
		"--activity", "events=20,changes=2"}
	waitFor := func(c *child, what string, n int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for strings.Count(c.logs.String(), what) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after 60s:\n%s", what, c.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	first := startChild(t, args...)
	waitFor(first, "records written", 3)
	if !strings.Contains(first.logs.String(), "kcat -b "+kafka) {
		t.Errorf("no kcat command printed:\n%s", first.logs.String())
	}
	before := committedRecords(t, kafka) // the broker lives as long as keycdc dev
	first.cmd.Process.Signal(syscall.SIGINT)
	if err := first.cmd.Wait(); err != nil {
		t.Fatalf("Ctrl-C: %v\n%s", err, first.logs.String())
	}
	if len(before) < 300 {
		t.Fatalf("only %d records after the first run", len(before))
	}

	second := startChild(t, args...)
	waitFor(second, "records written", 3)
	mid := committedRecords(t, kafka)
	second.kill() // SIGKILL keycdc dev: its broker process gets SIGTERM and stops cleanly
	time.Sleep(200 * time.Millisecond)

	third := startChild(t, args...)
	defer func() { third.cmd.Process.Signal(syscall.SIGINT); third.cmd.Wait() }()
	waitFor(third, "records written", 2)
	after := committedRecords(t, kafka)
	for _, snap := range []map[string]string{before, mid} {
		for pos, rec := range snap {
			if after[pos] != rec {
				t.Fatalf("record %s committed before a restart is gone or changed", pos)
			}
		}
	}
	// Resuming, not starting over: the restarts did not snapshot the realm again.
	if grown := len(after) - len(before); grown > len(before)/2 {
		t.Errorf("restarts added %d records to %d: the realm was written again", grown, len(before))
	}
	// The demo's sink, which went through the same stops and the kill, holds exactly the
	// topics' current rows: nothing doubled, nothing lost.
	third.cmd.Process.Signal(syscall.SIGINT)
	if err := third.cmd.Wait(); err != nil {
		t.Fatalf("Ctrl-C: %v\n%s", err, third.logs.String())
	}
	fourth := startChild(t, append(args[:len(args)-2:len(args)-2], "--activity", "events=0,changes=0")...)
	defer func() { fourth.cmd.Process.Signal(syscall.SIGINT); fourth.cmd.Wait() }()
	waitFor(fourth, "sink:", 1)
	deadline := time.Now().Add(60 * time.Second)
	for {
		diff := sinkDiff(t, kafka, "http://"+registry, filepath.Join(dir, "sink.json"))
		if diff == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink does not hold the topics' rows:\n%s", diff)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sinkDiff compares the JSON-file sink with the topics' current rows.
func sinkDiff(t *testing.T, broker, registry, path string) string {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(broker)}, topics.ReplayOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rc, err := sr.NewClient(sr.URLs(registry))
	if err != nil {
		t.Fatal(err)
	}
	codec := schemas.NewCodec(rc)
	want := expected.Tables{}
	var names []string
	for _, tb := range schemas.Tables() {
		names = append(names, topics.Name("keycloak", "acme", tb))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := topics.Replay(ctx, cl, names, func(r *kgo.Record) error {
		d, err := codec.Decode(ctx, r.Topic, r.Key, r.Value)
		if err != nil {
			return err
		}
		want.Apply(d.Table, d.Key, d.Value)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	store, err := jsonfile.Open(path)
	if err != nil {
		return err.Error()
	}
	got := store.All()["acme"]
	var diffs []string
	for _, tb := range schemas.Tables() {
		g := map[string]schemas.Row{}
		for _, r := range got[tb.Name()] {
			g[expected.Key(tb, r)] = r
		}
		if d := expected.Diff(tb.Name(), want[tb.Name()], g, 3); d != "" {
			diffs = append(diffs, d)
		}
	}
	return strings.Join(diffs, "\n")
}
