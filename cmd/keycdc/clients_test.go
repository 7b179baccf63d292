package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

// requireTool finds an external program, skipping the test when it is missing unless
// KEYCDC_REQUIRE_CLIENTS=1 (CI installs them and sets it).
func requireTool(t *testing.T, name string, check ...string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil && len(check) > 0 {
		err = exec.Command(p, check...).Run()
	}
	if err != nil {
		if os.Getenv("KEYCDC_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("%s is required (KEYCDC_REQUIRE_CLIENTS=1): %v", name, err)
		}
		t.Skipf("%s not available: %v (apt-get install kcat python3-confluent-kafka python3-avro python3-requests)", name, err)
	}
	return p
}

// Clients keycdc did not write read its topics as they are: librdkafka through
// confluent-kafka-python with the Schema Registry client and Apache Avro decodes every
// record of every table, with read_committed isolation, to the same rows keycdc's own codec
// sees; kcat sees the Confluent framing and the same records.
func TestIndependentClientsReadTheTopics(t *testing.T) {
	py := "/usr/bin/python3" // Debian's python, which sees Debian's packages
	if _, err := os.Stat(py); err != nil {
		py = "python3"
	}
	py = requireTool(t, py, "-c", "import confluent_kafka, avro, requests")
	kcat := requireTool(t, "kcat", "-V")

	s := newStack(t, "26.2", spec("acme", 60, 71))
	if logs, err := s.runOnce(s.config()); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	ours := s.read("acme")
	broker := s.kafka.ListenAddrs()[0]
	var names []string
	for _, tb := range schemas.Tables() {
		names = append(names, topics.Name("keycloak", "acme", tb))
	}
	cmd := exec.Command(py, append([]string{"testdata/read_topics.py", broker, s.reg.URL()}, names...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python reader: %v\n%s", err, stderr.String())
	}
	type rec struct {
		Topic  string         `json:"topic"`
		Key    map[string]any `json:"key"`
		Value  map[string]any `json:"value"`
		Offset int64          `json:"offset"`
	}
	got := 0
	byTopic := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	users := map[string]map[string]any{}
	for sc.Scan() {
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("python output %q: %v", sc.Text(), err)
		}
		got++
		byTopic[r.Topic]++
		if strings.HasSuffix(r.Topic, ".user") && r.Value != nil {
			users[r.Key["id"].(string)] = r.Value
		}
	}
	if got != ours.records {
		t.Fatalf("confluent-kafka read %d committed records, keycdc's reader %d (by topic: %v)", got, ours.records, byTopic)
	}
	// Same content: compare the user rows field by field.
	for id, want := range ours.tables["user"] {
		g, ok := users[id]
		if !ok {
			t.Fatalf("user %s missing from the independent read", id)
		}
		for col, v := range want {
			gv := g[col]
			if v == nil {
				if gv != nil {
					t.Errorf("user %s %s: want null, got %v", id, col, gv)
				}
				continue
			}
			if fmt.Sprint(v) != fmt.Sprint(gv) && col != "created_timestamp" {
				t.Errorf("user %s %s: keycdc %v, Apache Avro %v", id, col, v, gv)
			}
		}
	}

	// kcat (Debian's has no Avro): the Confluent framing and read_committed counts.
	topic := topics.Name("keycloak", "acme", schemas.User)
	kout, err := exec.Command(kcat, "-b", broker, "-X", "isolation.level=read_committed", "-C", "-t", topic, "-e", "-q",
		"-f", "%R%s").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	n := 0
	for len(kout) >= 4 {
		l := int(int32(binary.BigEndian.Uint32(kout[:4]))) // %R: the value's length, then %s: the value
		if l < 5 || 4+l > len(kout) || kout[4] != 0 {
			t.Fatalf("kcat record %d: not a framed Avro value (length %d): % x", n, l, kout[:min(len(kout), 12)])
		}
		kout = kout[4+l:]
		n++
	}
	if n != len(ours.tables["user"]) {
		t.Fatalf("kcat read %d user records, keycdc wrote %d", n, len(ours.tables["user"]))
	}
}
