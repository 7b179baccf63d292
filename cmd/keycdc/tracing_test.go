package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OpenTelemetry collector's OTLP/HTTP trace receiver: it decodes every
// export request with the protocol's own generated types.
type collector struct {
	mu    sync.Mutex
	spans map[string]int            // by name
	attrs map[string]map[string]int // span name → attribute key → spans with it
	res   map[string]string         // resource attributes
	text  strings.Builder           // every string value, to look for secrets
	bad   []string
}

func newCollector(t *testing.T) (*collector, string) {
	c := &collector{spans: map[string]int{}, attrs: map[string]map[string]int{}, res: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			c.bad = append(c.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		if err := proto.Unmarshal(body, &req); err != nil {
			c.bad = append(c.bad, "undecodable export: "+err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				c.res[a.Key] = a.GetValue().GetStringValue()
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans[s.Name]++
					if c.attrs[s.Name] == nil {
						c.attrs[s.Name] = map[string]int{}
					}
					for _, a := range s.Attributes {
						c.attrs[s.Name][a.Key]++
						c.text.WriteString(a.GetValue().String())
					}
					c.text.WriteString(s.GetStatus().GetMessage())
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func (c *collector) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spans[name]
}

// With tracing.otlp_endpoint set, `keycdc run` and `keycdc sink postgres` export their
// spans to an OTLP/HTTP collector: a trace per poll cycle with the scan, the event polls,
// the commits and every Keycloak request, and a span per sink batch. No secret travels in
// a span; a bad endpoint is a configuration error naming the key.
func TestTracesReachAnOTLPCollector(t *testing.T) {
	col, url := newCollector(t)
	s := newStack(t, "26.2", spec("acme", 30, 61))
	cfg := s.configWith(nil, "metrics:\n", "tracing:\n  otlp_endpoint: "+url+"\nmetrics:\n")
	if logs, err := s.runOnce(cfg); err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	// The run flushes its spans before it returns.
	for _, name := range []string{"keycdc.cycle", "keycdc.full_scan", "keycdc.events", "keycdc.commit", "GET users", "POST token"} {
		if col.count(name) == 0 {
			t.Errorf("no %q span reached the collector", name)
		}
	}
	db := newSinkDB(t)
	stop, logs := runSink(t, s.configWith(nil, "metrics:\n", "tracing:\n  otlp_endpoint: "+url+"\n  sample_ratio: 1\n"+
		"postgres:\n  dsn: "+db.dsn+"\nsink:\n  schema: "+db.schema+"\n  batch_age: 20ms\nmetrics:\n"))
	db.eventuallyLoaded(s, "acme", 60*time.Second, logs)
	stop()
	if col.count("keycdc.sink.batch") == 0 {
		t.Errorf("no sink batch span reached the collector; sink logs:\n%s", logs())
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.bad) > 0 {
		t.Errorf("the collector got requests it could not take: %v", col.bad)
	}
	if col.res["service.name"] != "keycdc" {
		t.Errorf("resource attributes %v lack service.name=keycdc", col.res)
	}
	if col.attrs["keycdc.cycle"]["realm"] == 0 || col.attrs["GET users"]["http.response.status_code"] == 0 ||
		col.attrs["keycdc.commit"]["keycdc.records"] == 0 || col.attrs["keycdc.sink.batch"]["keycdc.records"] == 0 {
		t.Errorf("spans lack their attributes: %v", col.attrs)
	}
	for _, sec := range []string{"s3cret-acme", "Bearer ", "access_token"} {
		if strings.Contains(col.text.String(), sec) {
			t.Errorf("a span holds %q", sec)
		}
	}
}

func TestTracingConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"tracing:\n  otlp_endpoint: collector:4318\n", "tracing.otlp_endpoint: is not an http(s) URL"},
		{"tracing:\n  otlp_endpoint: http://u:pw@collector:4318\n", "tracing.otlp_endpoint: must not carry credentials"},
		{"tracing:\n  sample_ratio: 1.5\n", "tracing.sample_ratio: must be between 0 and 1"},
		{"tracing:\n  sample_ratio: half\n", `tracing.sample_ratio (line 12): "half" is not a number`},
	} {
		c, err := loadConfig(writeFile(t, minimalConfig+tc.yaml), noEnv)
		if err == nil {
			err = c.validate(needKeycloak | needKafka | needRegistry)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("%q: the error shows the password: %v", tc.yaml, err)
		}
	}
}
