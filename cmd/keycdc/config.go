package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keycdc/keycdc/schemas"
)

// secret is a configuration value that never prints.
type secret string

func (secret) String() string       { return "***" }
func (secret) GoString() string     { return `"***"` }
func (secret) LogValue() slog.Value { return slog.StringValue("***") }

// config is keycdc's configuration file. Every leaf has a yaml key, a default and a doc;
// the README's configuration reference is generated from these tags (configReference) and a
// test keeps the two equal. Every key can be overridden by KEYCDC_<SECTION>_<KEY>.
type config struct {
	Keycloak       keycloakSection `yaml:"keycloak"`
	Kafka          kafkaSection    `yaml:"kafka"`
	SchemaRegistry registrySection `yaml:"schema_registry"`
	Sync           syncSection     `yaml:"sync"`
	Postgres       postgresSection `yaml:"postgres"`
	Sink           sinkSection     `yaml:"sink"`
	Metrics        metricsSection  `yaml:"metrics"`
	Tracing        tracingSection  `yaml:"tracing"`
	Log            logSection      `yaml:"log"`
}

type keycloakSection struct {
	URL            string        `yaml:"url" doc:"Keycloak base URL (add /auth for servers with the legacy path). Required."`
	Realms         []string      `yaml:"realms" doc:"Realms to poll. Required."`
	ClientID       string        `yaml:"client_id" default:"keycdc" doc:"Confidential client whose service account keycdc uses."`
	ClientSecret   secret        `yaml:"client_secret" doc:"Its secret. Required; prefer the environment variable."`
	AuthRealm      string        `yaml:"auth_realm" doc:"Realm that holds the client; empty means each polled realm."`
	PageSize       int           `yaml:"page_size" default:"500" doc:"Entities per Admin API page."`
	Concurrency    int           `yaml:"concurrency" default:"8" doc:"Admin API requests in flight at most, per realm."`
	RequestTimeout time.Duration `yaml:"request_timeout" default:"30s" doc:"Timeout of one Admin API request."`
	CAFile         string        `yaml:"ca_file" doc:"PEM file of CAs to trust for an https Keycloak URL (default: system roots)."`
	Insecure       bool          `yaml:"insecure_skip_verify" default:"false" doc:"Do not verify Keycloak's TLS certificate (testing only)."`
}

type kafkaSection struct {
	Brokers           []string        `yaml:"brokers" doc:"Bootstrap brokers, host:port. Required."`
	TopicPrefix       string          `yaml:"topic_prefix" default:"keycloak" doc:"Topics are <prefix>.<realm>.<table>."`
	Partitions        int             `yaml:"partitions" default:"3" doc:"Partitions of data topics keycdc creates."`
	ReplicationFactor int             `yaml:"replication_factor" default:"-1" doc:"Replication factor of topics keycdc creates; -1 is the broker's default."`
	MaxTxRecords      int             `yaml:"max_transaction_records" default:"5000" doc:"Records per transaction at most."`
	TxTimeout         time.Duration   `yaml:"transaction_timeout" default:"60s" doc:"Transaction timeout given to the broker."`
	ClientID          string          `yaml:"client_id" default:"keycdc" doc:"Kafka client id."`
	Compression       string          `yaml:"compression" default:"gzip" doc:"Batch compression: none, gzip, snappy, lz4 or zstd (gzip is readable by every client, pure-JavaScript ones included)."`
	SASL              saslSection     `yaml:"sasl"`
	TLS               kafkaTLSSection `yaml:"tls"`
}

type saslSection struct {
	Mechanism string `yaml:"mechanism" doc:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables SASL."`
	Username  string `yaml:"username" doc:"SASL user."`
	Password  secret `yaml:"password" doc:"SASL password."`
}

type kafkaTLSSection struct {
	Enabled  bool   `yaml:"enabled" default:"false" doc:"Connect to Kafka with TLS."`
	CAFile   string `yaml:"ca_file" doc:"PEM file of CAs to trust (default: system roots)."`
	CertFile string `yaml:"cert_file" doc:"Client certificate (PEM) for mutual TLS."`
	KeyFile  string `yaml:"key_file" doc:"Client key (PEM) for mutual TLS."`
	Insecure bool   `yaml:"insecure_skip_verify" default:"false" doc:"Do not verify the brokers' certificates (testing only)."`
}

type registrySection struct {
	URL      string `yaml:"url" doc:"Confluent-compatible Schema Registry URL. Required."`
	Username string `yaml:"username" doc:"Basic-auth user."`
	Password secret `yaml:"password" doc:"Basic-auth password."`
}

type syncSection struct {
	StartDate           string        `yaml:"start_date" doc:"YYYY-MM-DD: the first day of events to read on a new realm (default: 30 days ago)."`
	PollInterval        time.Duration `yaml:"poll_interval" default:"5s" doc:"Pause between event polls."`
	FullScanInterval    time.Duration `yaml:"full_scan_interval" default:"1h" doc:"How often every entity is re-read and diffed."`
	Tables              []string      `yaml:"tables" doc:"Tables to write (default: all)."`
	EventsOverlap       time.Duration `yaml:"events_overlap" default:"30s" doc:"How far behind the watermark event polls re-read, for late events."`
	MaxBatchAge         time.Duration `yaml:"max_batch_age" default:"2s" doc:"How long scanned changes wait before they are committed."`
	KeepOwnLogins       bool          `yaml:"keep_own_client_logins" default:"false" doc:"Keep the CLIENT_LOGIN events of keycdc's own token grants."`
	AdminRepresentation bool          `yaml:"admin_event_representation" default:"false" doc:"Write admin events' representations, with secret-bearing fields redacted."`
}

type postgresSection struct {
	DSN secret `yaml:"dsn" doc:"PostgreSQL connection string for 'keycdc sink postgres'."`
}

type sinkSection struct {
	GroupID       string        `yaml:"group_id" default:"keycdc-sink-postgres" doc:"Consumer group of the sink; its positions in the warehouse are stored under this name."`
	BatchSize     int           `yaml:"batch_size" default:"5000" doc:"Records per warehouse transaction at most."`
	BatchAge      time.Duration `yaml:"batch_age" default:"1s" doc:"How long records wait before the batch is written."`
	DeadLetterMax int           `yaml:"dead_letter_limit" default:"1000" doc:"Stop the sink rather than let its group's rows in the dead-letter table exceed this (0: no limit); delete rows you have dealt with to go on."`
	Schema        string        `yaml:"schema" default:"keycdc" doc:"PostgreSQL schema the sink writes to."`
	StopTimeout   time.Duration `yaml:"stop_timeout" default:"10s" doc:"How long a graceful stop may spend finishing the batch in progress before rolling it back."`
	InstanceID    string        `yaml:"instance_id" doc:"Static consumer-group membership (e.g. the pod name): a restarted sink gets its partitions back at once instead of after the session timeout."`
}

type metricsSection struct {
	Listen string `yaml:"listen" default:"127.0.0.1:9464" doc:"Address of the Prometheus /metrics and /healthz endpoint; empty disables it."`
}

type tracingSection struct {
	OTLPEndpoint string  `yaml:"otlp_endpoint" doc:"OpenTelemetry collector's OTLP/HTTP address, e.g. http://otel-collector:4318 (spans go to its /v1/traces); empty: no traces. OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_CERTIFICATE are honoured for credentials and TLS."`
	SampleRatio  float64 `yaml:"sample_ratio" default:"1" doc:"Fraction of poll cycles and sink batches traced, 0 to 1."`
}

type logSection struct {
	Level  string `yaml:"level" default:"info" doc:"debug, info, warn or error."`
	Format string `yaml:"format" default:"text" doc:"text or json."`
}

var durationType = reflect.TypeOf(time.Duration(0))

// leaf is one configuration key.
type leaf struct {
	path  string // yaml path, e.g. keycloak.client_secret
	env   string
	field reflect.StructField
	value reflect.Value
}

// leaves lists every key of c in declaration order.
func (c *config) leaves() []leaf {
	var out []leaf
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			fv := v.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(fv, path)
				continue
			}
			out = append(out, leaf{path: path, env: envName(path), field: f, value: fv})
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

func envName(path string) string {
	return "KEYCDC_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// set parses s into the leaf's value: lists are comma-separated, durations use Go syntax.
func (l leaf) set(s string) error {
	v := l.value
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30s or 5m", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice:
		var items []string
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// loadConfig reads the file at path (if not empty), applies defaults, then environment
// overrides (lookup is os.LookupEnv in production), then validates. Every error names the
// key it is about. A variable set to the empty string empties a text or list key (so that
// KEYCDC_METRICS_LISTEN= turns the endpoint off) and leaves a number, duration or switch
// as it was.
func loadConfig(path string, lookup func(string) (string, bool)) (*config, error) {
	c := &config{}
	var errs []error
	for _, l := range c.leaves() {
		if d, ok := l.field.Tag.Lookup("default"); ok {
			if err := l.set(d); err != nil {
				panic(fmt.Sprintf("config default of %s: %v", l.path, err))
			}
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w (pass --config with the path of a YAML file; README shows a minimal one)", err)
		}
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			return nil, fmt.Errorf("config %s: not valid YAML: %v", path, err)
		}
		if len(root.Content) > 0 {
			errs = append(errs, c.applyYAML(root.Content[0])...)
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("config %s:\n  %w", path, indentJoin(errs))
		}
	}
	for _, l := range c.leaves() {
		v, ok := lookup(l.env)
		if !ok || (v == "" && l.value.Kind() != reflect.String && l.value.Kind() != reflect.Slice) {
			continue
		}
		if err := l.set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %v", l.path, l.env, err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config:\n  %w", indentJoin(errs))
	}
	return c, nil
}

func indentJoin(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}

// applyYAML copies the YAML mapping into c, refusing keys the config does not have.
func (c *config) applyYAML(root *yaml.Node) []error {
	byPath := map[string]leaf{}
	sections := map[string]bool{"": true}
	var known []string
	for _, l := range c.leaves() {
		byPath[l.path] = l
		known = append(known, l.path)
		for p := l.path; strings.Contains(p, "."); {
			p = p[:strings.LastIndex(p, ".")]
			sections[p] = true
		}
	}
	var errs []error
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			where := prefix
			if where == "" {
				where = "the top level"
			}
			errs = append(errs, fmt.Errorf("%s (line %d): expected a mapping of keys", where, n.Line))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			if line, dup := seen[k.Value]; dup {
				errs = append(errs, fmt.Errorf("%s (line %d): given twice (first on line %d)", path, k.Line, line))
				continue
			}
			seen[k.Value] = k.Line
			if sections[path] {
				walk(v, path)
				continue
			}
			l, ok := byPath[path]
			if !ok {
				msg := fmt.Sprintf("%s (line %d): unknown key", path, k.Line)
				if s := closest(path, known); s != "" {
					msg += fmt.Sprintf("; did you mean %s?", s)
				}
				errs = append(errs, errors.New(msg))
				continue
			}
			if err := l.setNode(v); err != nil {
				errs = append(errs, fmt.Errorf("%s (line %d): %v", path, v.Line, err))
			}
		}
	}
	walk(root, "")
	return errs
}

func (l leaf) setNode(n *yaml.Node) error {
	if l.value.Kind() == reflect.Slice {
		switch n.Kind {
		case yaml.SequenceNode:
			items := make([]string, 0, len(n.Content))
			for _, it := range n.Content {
				if it.Kind != yaml.ScalarNode {
					return errors.New("expected a list of strings")
				}
				items = append(items, it.Value)
			}
			l.value.Set(reflect.ValueOf(items))
			return nil
		case yaml.ScalarNode:
			return l.set(n.Value)
		}
		return errors.New("expected a list")
	}
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected a single value")
	}
	return l.set(n.Value)
}

// closest suggests the known key nearest to path by edit distance, if close enough.
func closest(path string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := editDistance(path, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// requireFor names what a subcommand needs beyond the defaults.
type requirement int

const (
	needKeycloak requirement = 1 << iota
	needKafka
	needRegistry
	needPostgres
	// needRealms is for commands that read keycdc's topics without talking to Keycloak
	// (the sinks): keycloak.realms and sync.tables name the topics. needKeycloak implies it.
	needRealms
)

// validate reports every problem of c for a subcommand with the given needs.
func (c *config) validate(need requirement) error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, a...)...))
	}
	if need&needKeycloak != 0 {
		if c.Keycloak.URL == "" {
			bad("keycloak.url", "required (e.g. http://127.0.0.1:8080)")
		} else if u, err := url.Parse(c.Keycloak.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("keycloak.url", "is not an http(s) URL")
		} else if u.User != nil {
			bad("keycloak.url", "must not carry credentials (they would show in messages); keycdc authenticates with keycloak.client_id and keycloak.client_secret")
		}
		if c.Keycloak.ClientID == "" {
			bad("keycloak.client_id", "required")
		}
		if c.Keycloak.ClientSecret == "" {
			bad("keycloak.client_secret", "required (set it in the file or in KEYCDC_KEYCLOAK_CLIENT_SECRET)")
		}
		if c.Keycloak.PageSize < 2 {
			bad("keycloak.page_size", "must be at least 2, got %d", c.Keycloak.PageSize)
		}
		if c.Keycloak.Concurrency < 1 {
			bad("keycloak.concurrency", "must be at least 1, got %d", c.Keycloak.Concurrency)
		}
		if c.Keycloak.RequestTimeout <= 0 {
			bad("keycloak.request_timeout", "must be positive, got %v", c.Keycloak.RequestTimeout)
		}
		if c.Sync.StartDate != "" {
			if _, err := time.Parse(time.DateOnly, c.Sync.StartDate); err != nil {
				bad("sync.start_date", "%q is not a date like 2026-01-31", c.Sync.StartDate)
			}
		}
		for _, d := range []struct {
			key string
			v   time.Duration
		}{{"sync.poll_interval", c.Sync.PollInterval}, {"sync.full_scan_interval", c.Sync.FullScanInterval},
			{"sync.max_batch_age", c.Sync.MaxBatchAge}} {
			if d.v <= 0 {
				bad(d.key, "must be positive, got %v", d.v)
			}
		}
		if c.Sync.EventsOverlap <= 0 {
			bad("sync.events_overlap", "must be positive (events that Keycloak stores late are found in this window), got %v", c.Sync.EventsOverlap)
		}
	}
	if need&(needKeycloak|needRealms) != 0 {
		if len(c.Keycloak.Realms) == 0 {
			bad("keycloak.realms", "required: list the realms to poll")
		}
		seen := map[string]bool{}
		for _, r := range c.Keycloak.Realms {
			if r == "" || seen[r] {
				bad("keycloak.realms", "realm %q is empty or listed twice", r)
			}
			seen[r] = true
		}
		if _, err := tablesOf(c.Sync.Tables); err != nil {
			bad("sync.tables", "%v", err)
		}
	}
	if need&needKafka != 0 {
		if len(c.Kafka.Brokers) == 0 {
			bad("kafka.brokers", "required (e.g. [127.0.0.1:9092])")
		}
		if c.Kafka.Partitions < 1 {
			bad("kafka.partitions", "must be at least 1, got %d", c.Kafka.Partitions)
		}
		if c.Kafka.ReplicationFactor == 0 || c.Kafka.ReplicationFactor < -1 {
			bad("kafka.replication_factor", "must be -1 (broker default) or at least 1, got %d", c.Kafka.ReplicationFactor)
		}
		if c.Kafka.MaxTxRecords < 1 {
			bad("kafka.max_transaction_records", "must be at least 1, got %d", c.Kafka.MaxTxRecords)
		}
		if c.Kafka.TxTimeout < 10*time.Second {
			bad("kafka.transaction_timeout", "must be at least 10s, got %v", c.Kafka.TxTimeout)
		}
		switch c.Kafka.Compression {
		case "none", "gzip", "snappy", "lz4", "zstd":
		default:
			bad("kafka.compression", "%q is not none, gzip, snappy, lz4 or zstd", c.Kafka.Compression)
		}
		switch c.Kafka.SASL.Mechanism {
		case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			bad("kafka.sasl.mechanism", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Kafka.SASL.Mechanism)
		}
		if c.Kafka.SASL.Mechanism != "" && (c.Kafka.SASL.Username == "" || c.Kafka.SASL.Password == "") {
			bad("kafka.sasl.username", "username and password are required with a SASL mechanism")
		}
		if (c.Kafka.TLS.CertFile == "") != (c.Kafka.TLS.KeyFile == "") {
			bad("kafka.tls.cert_file", "cert_file and key_file go together")
		}
	}
	if need&needRegistry != 0 {
		if c.SchemaRegistry.URL == "" {
			bad("schema_registry.url", "required (e.g. http://127.0.0.1:8081)")
		} else if u, err := url.Parse(c.SchemaRegistry.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("schema_registry.url", "is not an http(s) URL")
		} else if u.User != nil {
			bad("schema_registry.url", "must not carry credentials (they would show in messages); set schema_registry.username and schema_registry.password")
		}
	}
	if need&needPostgres != 0 {
		if c.Postgres.DSN == "" {
			bad("postgres.dsn", "required (e.g. postgres://user@127.0.0.1:5432/db, or KEYCDC_POSTGRES_DSN)")
		}
		if c.Sink.BatchSize < 1 {
			bad("sink.batch_size", "must be at least 1, got %d", c.Sink.BatchSize)
		}
		if c.Sink.DeadLetterMax < 0 {
			bad("sink.dead_letter_limit", "must not be negative, got %d", c.Sink.DeadLetterMax)
		}
		if c.Sink.GroupID == "" {
			bad("sink.group_id", "required")
		}
		if c.Sink.BatchAge <= 0 {
			bad("sink.batch_age", "must be positive, got %v", c.Sink.BatchAge)
		}
		if c.Sink.StopTimeout <= 0 {
			bad("sink.stop_timeout", "must be positive, got %v", c.Sink.StopTimeout)
		}
		if c.Sink.Schema == "" || len(c.Sink.Schema) > 63 {
			bad("sink.schema", "want a PostgreSQL schema name of 1 to 63 bytes, got %q", c.Sink.Schema)
		}
	}
	if e := c.Tracing.OTLPEndpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("tracing.otlp_endpoint", "is not an http(s) URL like http://otel-collector:4318")
		} else if u.User != nil {
			bad("tracing.otlp_endpoint", "must not carry credentials (they would show in messages); set OTEL_EXPORTER_OTLP_HEADERS")
		}
	}
	if r := c.Tracing.SampleRatio; r < 0 || r > 1 || r != r {
		bad("tracing.sample_ratio", "must be between 0 and 1, got %v", r)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration:\n  %w", indentJoin(errs))
}

// commandConfig defines --config on fs (which holds the subcommand's other flags), parses
// args, loads the file with environment overrides and validates it for what the
// subcommand needs.
func commandConfig(fs *flag.FlagSet, e env, args []string, need requirement) (*config, error) {
	path := fs.String("config", "", "path of the YAML configuration file (required)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if *path == "" {
		return nil, usagef("--config is required (a YAML file; README.md shows a minimal one, and the configuration reference every key)")
	}
	c, err := loadConfig(*path, e.lookupEnv)
	if err != nil {
		return nil, err
	}
	if err := c.validate(need); err != nil {
		return nil, err
	}
	return c, nil
}

// configReference renders the configuration reference table of README.md.
func configReference() string {
	var b strings.Builder
	b.WriteString("| key | default | environment variable | meaning |\n|---|---|---|---|\n")
	c := &config{}
	for _, l := range c.leaves() {
		def := l.field.Tag.Get("default")
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", l.path, def, l.env, l.field.Tag.Get("doc"))
	}
	return b.String()
}

// envKeys lists every environment variable the configuration reads (sorted).
func envKeys() []string {
	c := &config{}
	var out []string
	for _, l := range c.leaves() {
		out = append(out, l.env)
	}
	sort.Strings(out)
	return out
}

// tablesOf resolves sync.tables; empty means every table.
func tablesOf(names []string) ([]*schemas.Table, error) {
	if len(names) == 0 {
		return schemas.Tables(), nil
	}
	var out []*schemas.Table
	var unknown []string
	for _, n := range names {
		t, ok := schemas.Lookup(n)
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		out = append(out, t)
	}
	if len(unknown) > 0 {
		var all []string
		for _, t := range schemas.Tables() {
			all = append(all, t.Name())
		}
		return nil, fmt.Errorf("unknown table %s (tables: %s)", strings.Join(unknown, ", "), strings.Join(all, ", "))
	}
	return out, nil
}
