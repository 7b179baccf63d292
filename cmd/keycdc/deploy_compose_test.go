package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// docker-compose.yml

func loadCompose(t *testing.T, root string) *types.Project {
	t.Helper()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{}, // every ${VAR:-default} takes its default
	}, func(o *loader.Options) { o.SetProjectName("keycdc", true) })
	if err != nil {
		t.Fatalf("docker-compose.yml does not load (schema validation, interpolation, consistency): %v", err)
	}
	return p
}

func envOf(s types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

func isKeycdc(s types.ServiceConfig) bool {
	return s.Build != nil && s.Build.Dockerfile == "deploy/Dockerfile"
}

func TestDeployComposeFile(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t, root)

	for _, name := range []string{"keycloak", "kafka", "schema-registry", "postgres", "keycdc-run", "keycdc-sink"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("service %s is missing", name)
		}
	}
	for name, s := range p.Services {
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || (hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL") {
			t.Errorf("service %s: needs a health check (test: [CMD, ...]), got %+v", name, hc)
		}
		for dep, d := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
			}
			if d.Condition != types.ServiceConditionHealthy {
				t.Errorf("service %s: depends_on %s has condition %q, want %s", name, dep, d.Condition, types.ServiceConditionHealthy)
			}
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("service %s: volume %q is not declared under volumes:", name, v.Source)
				}
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s: bind mount source: %v", name, err)
				}
			}
		}
		names := make([]string, 0, len(s.Environment))
		for k := range s.Environment {
			names = append(names, k)
		}
		checkEnvNames(t, "service "+name+" environment", names)
	}
	for _, name := range []string{"keycloak", "kafka", "postgres"} {
		named := false
		for _, v := range p.Services[name].Volumes {
			named = named || v.Type == types.VolumeTypeVolume
		}
		if !named {
			t.Errorf("service %s keeps its data in no named volume", name)
		}
	}

	// Interpolated variables named KEYCDC_* must be keys too: the file reuses the names of
	// the variables it sets so that one export serves both.
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	checkEnvNames(t, "docker-compose.yml", keycdcVarRef.FindAllString(string(raw), -1))

	t.Run("kafka", func(t *testing.T) { checkComposeKafka(t, p.Services["kafka"]) })
	t.Run("keycloak", func(t *testing.T) { checkComposeKeycloak(t, root, p.Services["keycloak"]) })
	t.Run("keycdc", func(t *testing.T) { checkComposeKeycdc(t, root, p) })
}

func checkComposeKafka(t *testing.T, s types.ServiceConfig) {
	env := envOf(s)
	want := map[string]string{
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("kafka: %s = %q, want %q (a single broker)", k, env[k], v)
		}
	}
	if !strings.Contains(env["KAFKA_PROCESS_ROLES"], "controller") || env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "" {
		t.Errorf("kafka: not in KRaft mode (KAFKA_PROCESS_ROLES=%q)", env["KAFKA_PROCESS_ROLES"])
	}
	if id := env["CLUSTER_ID"]; id != "" {
		// kafka-storage format takes a UUID as 22 characters of unpadded base64url.
		if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(id) {
			t.Errorf("kafka: CLUSTER_ID %q is not a base64url UUID", id)
		}
	}
}

func checkComposeKeycloak(t *testing.T, root string, s types.ServiceConfig) {
	if !strings.HasPrefix(s.Image, "quay.io/keycloak/keycloak:26") {
		t.Errorf("keycloak image %q, want quay.io/keycloak/keycloak:26.x", s.Image)
	}
	if !slices.Contains(s.Command, "--import-realm") || !slices.Contains(s.Command, "start-dev") {
		t.Errorf("keycloak command %q lacks start-dev --import-realm", s.Command)
	}
	// The image holds bash and coreutils, but no curl, wget or grep.
	for _, arg := range s.HealthCheck.Test {
		for _, tool := range []string{"curl", "wget", "grep"} {
			if regexp.MustCompile(`\b` + tool + `\b`).MatchString(arg) {
				t.Errorf("keycloak health check uses %s, which the Keycloak image lacks: %q", tool, arg)
			}
		}
	}
	if env := envOf(s); env["KC_HEALTH_ENABLED"] != "true" {
		t.Errorf("keycloak: KC_HEALTH_ENABLED must be true for /health/ready")
	}
	imported := 0
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasPrefix(v.Target, "/opt/keycloak/data/import/") {
			if !strings.HasSuffix(v.Target, "-realm.json") {
				t.Errorf("keycloak imports only <realm>-realm.json files, got %s", v.Target)
			}
			rel, err := filepath.Rel(root, v.Source)
			if err != nil || !strings.HasPrefix(rel, "deploy"+string(filepath.Separator)+"keycloak") {
				t.Errorf("realm file %s is not under deploy/keycloak/", v.Source)
			}
			imported++
		}
	}
	if imported == 0 {
		t.Error("keycloak: no realm file is mounted into /opt/keycloak/data/import/")
	}
}

func checkComposeKeycdc(t *testing.T, root string, p *types.Project) {
	stages := dockerfileStages(t, filepath.Join(root, "deploy", "Dockerfile"))
	realm := readRealm(t, filepath.Join(root, "deploy", "keycloak", "acme-realm.json"))
	seen := 0
	for name, s := range p.Services {
		if !isKeycdc(s) {
			if strings.Contains(s.Image, "keycdc") {
				t.Errorf("service %s runs keycdc but does not build it from deploy/Dockerfile", name)
			}
			continue
		}
		seen++
		if s.Build.Context != root {
			t.Errorf("service %s: build context %s, want the repository root", name, s.Build.Context)
		}
		st, ok := stages[s.Build.Target]
		if !ok {
			t.Errorf("service %s: build target %q is not a stage of deploy/Dockerfile", name, s.Build.Target)
			continue
		}
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 1 && strings.HasPrefix(hc.Test[1], "/busybox/") &&
			!strings.Contains(st.from, ":debug") {
			t.Errorf("service %s: health check runs %s, but stage %q (%s) has no busybox", name, hc.Test[1], s.Build.Target, st.from)
		}
		if !s.ReadOnly {
			t.Errorf("service %s: keycdc needs no writable root filesystem; set read_only: true", name)
		}

		cfgPath := configFlag(s.Command)
		if cfgPath == "" {
			t.Errorf("service %s: command %q has no --config", name, s.Command)
			continue
		}
		var source string
		for _, v := range s.Volumes {
			if v.Target == cfgPath {
				source = v.Source
			}
		}
		if source == "" {
			t.Errorf("service %s: nothing is mounted at %s", name, cfgPath)
			continue
		}
		env := envOf(s)
		c := loadDeployConfig(t, source, env, needsOf(t, s.Command))
		if c == nil {
			continue
		}

		// The addresses in the configuration are services of this file.
		addrs := [][2]string{{"keycloak.url", c.Keycloak.URL}, {"schema_registry.url", c.SchemaRegistry.URL}}
		for _, b := range c.Kafka.Brokers {
			addrs = append(addrs, [2]string{"kafka.brokers", "tcp://" + b})
		}
		for _, a := range addrs {
			u, err := url.Parse(a[1])
			if err != nil {
				t.Errorf("service %s: %s %q: %v", name, a[0], a[1], err)
				continue
			}
			if _, ok := p.Services[u.Hostname()]; !ok {
				t.Errorf("service %s: %s names host %q, which is not a service", name, a[0], u.Hostname())
			}
		}
		if c.Postgres.DSN != "" {
			u, err := url.Parse(string(c.Postgres.DSN))
			if err != nil {
				t.Errorf("service %s: postgres.dsn does not parse: %v", name, err)
			} else {
				pg := envOf(p.Services[u.Hostname()])
				pw, _ := u.User.Password()
				if u.User.Username() != pg["POSTGRES_USER"] || pw != pg["POSTGRES_PASSWORD"] || strings.TrimPrefix(u.Path, "/") != pg["POSTGRES_DB"] {
					t.Errorf("service %s: postgres.dsn does not match the credentials of service %s", name, u.Hostname())
				}
			}
		}

		// The health check asks the metrics endpoint keycdc listens on.
		if c.Metrics.Listen == "" {
			t.Errorf("service %s: metrics.listen is empty, so /healthz is not served", name)
		} else {
			host, _, _ := net.SplitHostPort(c.Metrics.Listen)
			if host != "0.0.0.0" && host != "" {
				t.Errorf("service %s: metrics.listen %s is unreachable from outside the container", name, c.Metrics.Listen)
			}
			port := portOf(t, c.Metrics.Listen)
			hc := strings.Join(s.HealthCheck.Test, " ")
			if !strings.Contains(hc, fmt.Sprintf(":%d/healthz", port)) {
				t.Errorf("service %s: health check %q does not ask /healthz on port %d", name, hc, port)
			}
			for _, pp := range s.Ports {
				if pp.Target != uint32(port) {
					t.Errorf("service %s: publishes container port %d, metrics listen on %d", name, pp.Target, port)
				}
			}
		}

		if needsOf(t, s.Command)&needKeycloak != 0 {
			for _, r := range c.Keycloak.Realms {
				found := false
				for _, v := range p.Services["keycloak"].Volumes {
					found = found || filepath.Base(v.Target) == r+"-realm.json"
				}
				if !found {
					t.Errorf("service %s polls realm %s, which keycloak does not import", name, r)
				}
			}
			cl := realm.client(c.Keycloak.ClientID)
			if cl == nil {
				t.Errorf("service %s: client %q is not in the realm file", name, c.Keycloak.ClientID)
			} else if cl.Secret != string(c.Keycloak.ClientSecret) {
				t.Errorf("service %s: keycloak.client_secret %q differs from the realm file's %q", name, c.Keycloak.ClientSecret, cl.Secret)
			}
		}
	}
	if seen < 2 {
		t.Errorf("found %d keycdc services built from deploy/Dockerfile, want run and sink", seen)
	}
}

// deploy/Dockerfile

type dockerStage struct {
	from  string // base image, ARGs substituted
	lines []string
}

// dockerfileStages parses the Dockerfile into its named stages; the last stage is also
// stored under "".
func dockerfileStages(t *testing.T, path string) map[string]*dockerStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args := map[string]string{}
	stages := map[string]*dockerStage{}
	var cur *dockerStage
	var logical strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && logical.Len() == 0) {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			logical.WriteString(l + " ")
			continue
		}
		logical.WriteString(line)
		inst := logical.String()
		logical.Reset()
		fields := strings.Fields(inst)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "ARG":
			if cur == nil {
				for _, a := range fields[1:] {
					k, v, _ := strings.Cut(a, "=")
					args[k] = v
				}
			}
		case "FROM":
			var image, name string
			for i := 1; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					name = fields[i+1]
					i++
				default:
					image = fields[i]
				}
			}
			image = os.Expand(image, func(k string) string { return args[k] })
			cur = &dockerStage{from: image}
			stages[name] = cur
			stages[""] = cur
		}
		if cur != nil {
			cur.lines = append(cur.lines, inst)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

func TestDeployDockerfile(t *testing.T) {
	root := repoRoot(t)
	stages := dockerfileStages(t, filepath.Join(root, "deploy", "Dockerfile"))
	var build *dockerStage
	for name, st := range stages {
		if name != "" && strings.HasPrefix(st.from, "golang:") {
			build = st
		}
	}
	if build == nil {
		t.Fatal("no golang build stage")
	}
	if !strings.HasPrefix(build.from, "golang:1.26") {
		t.Errorf("build stage image %s, want golang:1.26", build.from)
	}
	body := strings.Join(build.lines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w -X main.version=`, "./cmd/keycdc"} {
		if !strings.Contains(body, want) {
			t.Errorf("build stage lacks %s", want)
		}
	}
	// -X main.version sets this variable; it must stay a string in package main.
	var _ string = version

	last := stages[""]
	if strings.Contains(last.from, "debug") || strings.HasPrefix(last.from, "golang:") {
		t.Errorf("the default (last) stage is built on %s; it should be the small release image", last.from)
	}
	for name, st := range stages {
		if name == "" || st == build {
			continue
		}
		if !strings.HasPrefix(st.from, "gcr.io/distroless/static") && st.from != "scratch" {
			t.Errorf("stage %s: base %s is neither distroless static nor scratch", name, st.from)
		}
		var user, entry string
		for _, l := range st.lines {
			switch f := strings.Fields(l); strings.ToUpper(f[0]) {
			case "USER":
				user = f[1]
			case "ENTRYPOINT":
				entry = strings.Join(f[1:], " ")
			}
		}
		uid, _, _ := strings.Cut(user, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("stage %s: USER %q is not a numeric non-root uid", name, user)
		}
		if !strings.Contains(entry, "keycdc") {
			t.Errorf("stage %s: ENTRYPOINT %s does not run keycdc", name, entry)
		}
	}
}
