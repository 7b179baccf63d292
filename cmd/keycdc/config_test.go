package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keycdc.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimalConfig = `
keycloak:
  url: http://127.0.0.1:8080
  realms: [acme]
  client_id: keycdc
  client_secret: s3cret        # KEYCDC_KEYCLOAK_CLIENT_SECRET overrides
kafka:
  brokers: [127.0.0.1:9092]
schema_registry:
  url: http://127.0.0.1:8081
`

func noEnv(string) (string, bool) { return "", false }

func TestMinimalConfigWorksWithDefaults(t *testing.T) {
	c, err := loadConfig(writeFile(t, minimalConfig), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.validate(needKeycloak | needKafka | needRegistry); err != nil {
		t.Fatal(err)
	}
	if c.Kafka.TopicPrefix != "keycloak" || c.Sync.PollInterval != 5*time.Second || c.Keycloak.PageSize != 500 ||
		c.Keycloak.AuthRealm != "" || c.Sync.FullScanInterval != time.Hour || c.Keycloak.ClientSecret != "s3cret" {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestEnvironmentOverridesEveryKey(t *testing.T) {
	env := map[string]string{
		"KEYCDC_KEYCLOAK_CLIENT_SECRET": "from-env",
		"KEYCDC_KAFKA_BROKERS":          "a:1, b:2",
		"KEYCDC_SYNC_POLL_INTERVAL":     "250ms",
		"KEYCDC_KAFKA_SASL_MECHANISM":   "SCRAM-SHA-512",
		"KEYCDC_KAFKA_SASL_USERNAME":    "u",
		"KEYCDC_KAFKA_SASL_PASSWORD":    "p",
	}
	c, err := loadConfig(writeFile(t, minimalConfig), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.Keycloak.ClientSecret != "from-env" || len(c.Kafka.Brokers) != 2 || c.Kafka.Brokers[1] != "b:2" ||
		c.Sync.PollInterval != 250*time.Millisecond || c.Kafka.SASL.Mechanism != "SCRAM-SHA-512" {
		t.Fatalf("env not applied: %+v", c)
	}
	// Every leaf has a distinct variable name, and it is the documented pattern.
	seen := map[string]bool{}
	for _, k := range envKeys() {
		if seen[k] || !strings.HasPrefix(k, "KEYCDC_") {
			t.Fatalf("env key %s duplicated or misnamed", k)
		}
		seen[k] = true
	}
	// Every leaf can be set from the environment.
	for _, l := range (&config{}).leaves() {
		var val string
		switch {
		case l.value.Type() == durationType:
			val = "3s"
		case l.value.Kind().String() == "bool":
			val = "true"
		case l.value.Kind().String() == "int":
			val = "7"
		case l.value.Kind().String() == "float64":
			val = "0.5"
		default:
			val = "x"
		}
		got, err := loadConfig("", func(k string) (string, bool) {
			if k == l.env {
				return val, true
			}
			return "", false
		})
		if err != nil {
			t.Fatalf("%s: %v", l.env, err)
		}
		var after string
		for _, g := range got.leaves() {
			if g.path == l.path {
				after = fmt.Sprint(g.value.Interface())
			}
		}
		if !strings.Contains(after, strings.TrimSuffix(val, "s")) && !(l.value.Kind().String() == "string" && after == "***") {
			t.Errorf("%s=%s left %s = %q", l.env, val, l.path, after)
		}
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct{ body, want string }{
		{minimalConfig + "kafka_typo: 1\n", "kafka_typo (line 11): unknown key"},
		{strings.Replace(minimalConfig, "brokers:", "brokerz:", 1), "kafka.brokerz (line 8): unknown key; did you mean kafka.brokers?"},
		{minimalConfig + "sync:\n  poll_interval: 5\n", `sync.poll_interval (line 12): "5" is not a duration`},
		{minimalConfig + "keycloak2: [\n", "not valid YAML"},
		{minimalConfig + "sync:\n  tables: [user, usr]\n", "sync.tables: unknown table usr"},
		{strings.Replace(minimalConfig, "http://127.0.0.1:8081", "http://bob:pw@127.0.0.1:8081", 1), "schema_registry.url: must not carry credentials"},
		{minimalConfig + "sync:\n  start_date: 2026-13-01\n", `sync.start_date: "2026-13-01" is not a date`},
		{minimalConfig + "sync:\n  events_overlap: 0s\n", "sync.events_overlap: must be positive"},
		{strings.Replace(minimalConfig, "kafka:\n", "kafka:\n  sasl:\n    mechanism: GSSAPI\n", 1), "kafka.sasl.mechanism"},
		{minimalConfig + "sync:\n  poll_interval: 1s\nsync:\n  poll_interval: 2s\n", "sync (line 13): given twice (first on line 11)"},
	}
	for _, c := range cases {
		cfg, err := loadConfig(writeFile(t, c.body), noEnv)
		if err == nil {
			err = cfg.validate(needKeycloak | needKafka | needRegistry)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q:\n got %v\nwant %q", c.body[len(minimalConfig)-1:], err, c.want)
		}
	}
	_, err := loadConfig(filepath.Join(t.TempDir(), "missing.yaml"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("missing file: %v", err)
	}
	c, _ := loadConfig("", noEnv)
	err = c.validate(needKeycloak | needKafka | needRegistry)
	for _, key := range []string{"keycloak.url", "keycloak.realms", "keycloak.client_secret", "kafka.brokers", "schema_registry.url"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("empty config: %v lacks %s", err, key)
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := loadConfig(writeFile(t, minimalConfig), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "s3cret") {
		t.Fatalf("secret printed: %s", s)
	}
}

// A variable set to the empty string empties a text key (KEYCDC_METRICS_LISTEN= turns the
// endpoint off, whatever the file says) and leaves a number or duration as it was.
func TestEmptyEnvironmentVariable(t *testing.T) {
	env := map[string]string{"KEYCDC_METRICS_LISTEN": "", "KEYCDC_SYNC_POLL_INTERVAL": "", "KEYCDC_SYNC_TABLES": ""}
	c, err := loadConfig(writeFile(t, minimalConfig+"metrics:\n  listen: 127.0.0.1:9999\nsync:\n  poll_interval: 7s\n  tables: [user]\n"),
		func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != "" || c.Sync.PollInterval != 7*time.Second || len(c.Sync.Tables) != 0 {
		t.Fatalf("metrics.listen %q, sync.poll_interval %v, sync.tables %v", c.Metrics.Listen, c.Sync.PollInterval, c.Sync.Tables)
	}
}
