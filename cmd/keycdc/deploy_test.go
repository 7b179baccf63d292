package main

// Tests of the deployment material under deploy/ and of docker-compose.yml. Docker, Kafka
// Connect, Grafana and Kubernetes are not available where the tests run, so these tests
// are how the files are proven: each one is parsed the way its consumer parses it, and
// every name it shares with keycdc (configuration keys, environment variables, metrics,
// topics, columns) is checked against keycdc's own code.
//
// They live in package main, next to config.go, so that configuration files and KEYCDC_*
// variables are checked with the same loadConfig, validate and envKeys the binary uses,
// rather than with a copy of the key list that could drift from it.

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// knownEnv is the set of KEYCDC_* variables the configuration reads.
func knownEnv() map[string]bool {
	m := map[string]bool{}
	for _, k := range envKeys() {
		m[k] = true
	}
	return m
}

// keycdcVarRef finds KEYCDC_* names; a name outside knownEnv is a typo or a stale key.
var keycdcVarRef = regexp.MustCompile(`\bKEYCDC_[A-Z0-9_]+\b`)

func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	known := knownEnv()
	for _, n := range names {
		if strings.HasPrefix(n, "KEYCDC_") && !known[n] {
			t.Errorf("%s: %s is not a keycdc configuration variable (known: %s)", where, n, strings.Join(envKeys(), ", "))
		}
	}
}

// needsOf maps a keycdc command line to what it validates its configuration for.
func needsOf(t *testing.T, args []string) requirement {
	t.Helper()
	switch {
	case len(args) > 0 && args[0] == "run":
		return needKeycloak | needKafka | needRegistry
	case len(args) > 1 && args[0] == "sink" && args[1] == "postgres":
		return needKafka | needRegistry | needPostgres
	}
	t.Fatalf("unexpected keycdc command %q", args)
	return 0
}

// configFlag returns the value of --config in args.
func configFlag(args []string) string {
	for i, a := range args {
		if (a == "--config" || a == "-config") && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
	}
	return ""
}

// loadDeployConfig loads a keycdc configuration file with the environment env and
// validates it for need, reporting problems as test errors.
func loadDeployConfig(t *testing.T, path string, env map[string]string, need requirement) *config {
	t.Helper()
	c, err := loadConfig(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return nil
	}
	if err := c.validate(need); err != nil {
		t.Errorf("%s: %v", path, err)
		return nil
	}
	return c
}

func portOf(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return n
}

func readYAMLDocs[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	dec := yaml.NewDecoder(f)
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: not valid YAML: %v", path, err)
		}
		out = append(out, v)
	}
}
