package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

// deploy/connect/jdbc-sink.json

func TestDeployConnectJDBCSink(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "deploy", "connect", "jdbc-sink.json"))
	if err != nil {
		t.Fatal(err)
	}
	var conn struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&conn); err != nil {
		t.Fatalf("jdbc-sink.json (Connect's {name, config} with string values): %v", err)
	}
	cfg := conn.Config
	want := map[string]string{
		"connector.class":                   "io.confluent.connect.jdbc.JdbcSinkConnector",
		"key.converter":                     "io.confluent.connect.avro.AvroConverter",
		"value.converter":                   "io.confluent.connect.avro.AvroConverter",
		"insert.mode":                       "upsert",
		"pk.mode":                           "record_key",
		"delete.enabled":                    "true",
		"consumer.override.isolation.level": "read_committed",
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("%s = %q, want %q", k, cfg[k], v)
		}
	}
	if _, ok := cfg["pk.fields"]; ok {
		t.Error("pk.fields is set: with record_key every key column is the primary key, and keycdc's keys differ per table")
	}

	// The registry is the one keycdc registers its schemas in.
	p := loadCompose(t, root)
	var kc *config
	for _, s := range p.Services {
		if isKeycdc(s) && len(s.Command) > 0 && s.Command[0] == "run" {
			for _, v := range s.Volumes {
				if v.Target == configFlag(s.Command) {
					kc = loadDeployConfig(t, v.Source, envOf(s), needKeycloak|needKafka|needRegistry)
				}
			}
		}
	}
	if kc == nil {
		t.Fatal("no keycdc run configuration in docker-compose.yml")
	}
	for _, k := range []string{"key.converter.schema.registry.url", "value.converter.schema.registry.url"} {
		if cfg[k] != kc.SchemaRegistry.URL {
			t.Errorf("%s = %q, keycdc registers in %q", k, cfg[k], kc.SchemaRegistry.URL)
		}
	}

	// topics.regex (a full match, as Kafka's pattern subscription does) takes every table
	// topic of one realm and not the checkpoint topic.
	const realm = "acme"
	if !slices.Contains(kc.Keycloak.Realms, realm) {
		t.Fatalf("the compose stack does not poll realm %s", realm)
	}
	full := func(re string) *regexp.Regexp {
		t.Helper()
		r, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			t.Fatalf("regex %q: %v", re, err)
		}
		return r
	}
	subscribe := full(cfg["topics.regex"])
	if subscribe.MatchString(topics.CheckpointTopic(kc.Kafka.TopicPrefix)) {
		t.Errorf("topics.regex matches the checkpoint topic %s", topics.CheckpointTopic(kc.Kafka.TopicPrefix))
	}

	// Transforms, in order.
	var excluded []string
	route := func(topic string) string { return topic }
	for _, name := range strings.Split(cfg["transforms"], ",") {
		name = strings.TrimSpace(name)
		pre := "transforms." + name + "."
		switch typ := cfg[pre+"type"]; typ {
		case "org.apache.kafka.connect.transforms.RegexRouter":
			re := full(cfg[pre+"regex"])
			// Java's $1 is Go's ${1}.
			repl := regexp.MustCompile(`\$(\d+)`).ReplaceAllString(cfg[pre+"replacement"], "$${$1}")
			prev := route
			route = func(topic string) string {
				topic = prev(topic)
				if !re.MatchString(topic) {
					return topic
				}
				return re.ReplaceAllString(topic, repl)
			}
		case "org.apache.kafka.connect.transforms.ReplaceField$Value":
			for _, f := range strings.Split(cfg[pre+"exclude"], ",") {
				excluded = append(excluded, strings.TrimSpace(f))
			}
		default:
			t.Errorf("transform %s: unexpected type %q", name, typ)
		}
	}

	ident := regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`) // PostgreSQL, unquoted, 63 bytes
	tables := map[string]string{}
	for _, tab := range schemas.Tables() {
		topic := topics.Name(kc.Kafka.TopicPrefix, realm, tab)
		if !subscribe.MatchString(topic) {
			t.Errorf("topics.regex %q does not match %s", cfg["topics.regex"], topic)
		}
		table := strings.ReplaceAll(cfg["table.name.format"], "${topic}", route(topic))
		if !ident.MatchString(table) {
			t.Errorf("topic %s becomes table %q, not a plain PostgreSQL identifier (a dot would be read as schema.table)", topic, table)
		}
		if prev, dup := tables[table]; dup {
			t.Errorf("topics %s and %s both become table %s", prev, topic, table)
		}
		tables[table] = topic

		// The JDBC sink writes flat columns only: every map column must be dropped, and no
		// key column may be.
		for _, col := range tab.Columns() {
			drop := slices.Contains(excluded, col.Name)
			switch {
			case col.Type == schemas.TypeStringMap && !drop:
				t.Errorf("table %s: column %s is a map, which the JDBC sink cannot write; exclude it with ReplaceField", tab.Name(), col.Name)
			case drop && slices.Contains(tab.KeyColumns(), col.Name):
				t.Errorf("table %s: key column %s is excluded", tab.Name(), col.Name)
			}
		}
	}
}
