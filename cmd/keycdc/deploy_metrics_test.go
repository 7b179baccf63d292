package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Metrics: deploy/grafana and deploy/prometheus

type metricKind int

const (
	metricCounter metricKind = iota
	metricGauge
	metricHistogram
)

// instrumentKinds maps OpenTelemetry instrument constructors to what the Prometheus
// exporter makes of them.
var instrumentKinds = map[string]metricKind{
	"Int64Counter": metricCounter, "Float64Counter": metricCounter,
	"Int64ObservableCounter": metricCounter, "Float64ObservableCounter": metricCounter,
	"Int64UpDownCounter": metricGauge, "Float64UpDownCounter": metricGauge,
	"Int64ObservableUpDownCounter": metricGauge, "Float64ObservableUpDownCounter": metricGauge,
	"Int64Gauge": metricGauge, "Float64Gauge": metricGauge,
	"Int64ObservableGauge": metricGauge, "Float64ObservableGauge": metricGauge,
	"Int64Histogram": metricHistogram, "Float64Histogram": metricHistogram,
}

// unitSuffixes is how go.opentelemetry.io/otel/exporters/prometheus (v0.69.0) suffixes
// names by unit; a unit missing here fails the test rather than guessing.
var unitSuffixes = map[string]string{"": "", "s": "seconds", "ms": "milliseconds", "By": "bytes"}

// exportedMetrics finds every instrument keycdc's code creates (non-test Go files, a
// literal name starting with "keycdc.") and returns the Prometheus series names the
// exporter gives it: counters get _total, histograms _bucket, _sum and _count.
func exportedMetrics(t *testing.T, root string) map[string]bool {
	t.Helper()
	series := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "deploy") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			kind, ok := instrumentKinds[sel.Sel.Name]
			if !ok {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			name, err := strconv.Unquote(lit.Value)
			if err != nil || !strings.HasPrefix(name, "keycdc.") {
				return true
			}
			unit := ""
			for _, a := range call.Args[1:] {
				if c, ok := a.(*ast.CallExpr); ok {
					if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "WithUnit" && len(c.Args) == 1 {
						if l, ok := c.Args[0].(*ast.BasicLit); ok {
							unit, _ = strconv.Unquote(l.Value)
						}
					}
				}
			}
			suffix, ok := unitSuffixes[unit]
			if !ok {
				t.Errorf("%s: metric %s has unit %q; teach unitSuffixes its Prometheus suffix", fset.Position(lit.Pos()), name, unit)
				return true
			}
			base := strings.NewReplacer(".", "_", "-", "_").Replace(name)
			if suffix != "" && !strings.HasSuffix(base, "_"+suffix) {
				base += "_" + suffix
			}
			switch kind {
			case metricCounter:
				series[base+"_total"] = true
			case metricGauge:
				series[base] = true
			case metricHistogram:
				series[base+"_bucket"], series[base+"_sum"], series[base+"_count"] = true, true, true
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return series
}

var metricRef = regexp.MustCompile(`\bkeycdc_[a-z0-9_]+\b`)

// checkQueries checks that every keycdc_* series the queries use is exported, and that
// they use each of the required ones. Sink series are checked once the sinks package
// exists in this tree; before that their names cannot be checked against code.
func checkQueries(t *testing.T, where string, exprs []string, required []string) {
	t.Helper()
	root := repoRoot(t)
	exported := exportedMetrics(t, root)
	_, err := os.Stat(filepath.Join(root, "sinks"))
	sinkCode := err == nil
	used := map[string]bool{}
	for _, e := range exprs {
		if strings.Count(e, "(") != strings.Count(e, ")") || strings.Count(e, "{") != strings.Count(e, "}") {
			t.Errorf("%s: unbalanced brackets in %q", where, e)
		}
		for _, m := range metricRef.FindAllString(e, -1) {
			used[m] = true
			if exported[m] {
				continue
			}
			if strings.HasPrefix(m, "keycdc_sink_") && !sinkCode {
				t.Logf("%s: %s not checked: this tree has no sinks package yet", where, m)
				continue
			}
			t.Errorf("%s: %s is not a metric keycdc exports (exported: %s)", where, m, strings.Join(slices.Sorted(maps.Keys(exported)), ", "))
		}
	}
	for _, r := range required {
		if !used[r] {
			t.Errorf("%s: no query uses %s", where, r)
		}
	}
}

func TestDeployGrafanaDashboard(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "keycdc-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("keycdc-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Error("dashboard needs a title and a uid")
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	checkQueries(t, "keycdc-dashboard.json", exprs, []string{
		"keycdc_records_total", "keycdc_transaction_records_bucket", "keycdc_transaction_duration_seconds_bucket",
		"keycdc_events_lag_seconds", "keycdc_keycloak_requests_total", "keycdc_session_failures_total",
		"keycdc_sink_records_total", "keycdc_sink_dead_letters_total",
	})
}

func TestDeployAlertRules(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "deploy", "prometheus", "alerts.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true) // Prometheus loads rule files strictly too
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	var exprs []string
	names := map[string]bool{}
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || names[r.Alert] {
				t.Errorf("rule %+v: needs a unique alert name and an expr", r)
			}
			names[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	checkQueries(t, "alerts.yaml", exprs, []string{
		"keycdc_events_lag_seconds", "keycdc_keycloak_requests_total", "keycdc_session_failures_total",
		"keycdc_records_total", "keycdc_full_scans_total", "keycdc_sink_dead_letters_total", "keycdc_sink_records_total",
	})
	// The Keycloak alerts must tell 401/403 and 5xx apart.
	all := strings.Join(exprs, "\n")
	for _, s := range []string{`401|403`, `5..`} {
		if !strings.Contains(all, s) {
			t.Errorf("no alert filters Keycloak status %s", s)
		}
	}
}
