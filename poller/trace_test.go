package poller

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/keycdc/keycdc/poller/keycloak"
)

// A session starts with a keycdc.takeover trace (its checkpoint commit). A cycle is one
// trace: keycdc.cycle holds the full scan and both event polls, they hold
// their commits, and every Admin API and token request of the cycle is a client span in
// the same trace whose context reaches Keycloak in a traceparent header. No span carries
// the client secret or a token.
func TestCycleIsOneTrace(t *testing.T) {
	h := newHarness(t, time.Now)
	var withParent, requests atomic.Int64
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	h.useKeycloak(func(r *http.Request) {
		requests.Add(1)
		if r.Header.Get("traceparent") != "" {
			withParent.Add(1)
		}
	}, keycloak.TracerProvider(tp))
	cred, _ := h.twin.PollerCredentials(h.realm)
	if err := h.poller(Config{Once: true}, TracerProvider(tp)).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	spans := rec.Ended()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	count := map[string]int{}
	var cycle sdktrace.ReadOnlySpan
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
		count[s.Name()]++
		if s.Name() == "keycdc.cycle" {
			cycle = s
		}
	}
	if count["keycdc.takeover"] != 1 || count["keycdc.cycle"] != 1 || count["keycdc.full_scan"] != 1 || count["keycdc.events"] != 2 || count["keycdc.commit"] < 3 {
		t.Fatalf("span counts %v: want one cycle, one full scan, two event polls, a commit each at least", count)
	}
	t.Logf("spans: %v", count)
	parent := func(s sdktrace.ReadOnlySpan) string {
		p, ok := byID[s.Parent().SpanID()]
		if !ok {
			return ""
		}
		return p.Name()
	}
	var gets, grants int
	for _, s := range spans {
		if s.SpanContext().TraceID() != cycle.SpanContext().TraceID() && s.Name() != "keycdc.takeover" && parent(s) != "keycdc.takeover" {
			t.Errorf("span %q is outside the cycle's trace", s.Name())
		}
		switch {
		case s.Name() == "keycdc.full_scan" || s.Name() == "keycdc.events":
			if parent(s) != "keycdc.cycle" {
				t.Errorf("%s under %q", s.Name(), parent(s))
			}
		case s.Name() == "keycdc.commit":
			if p := parent(s); p != "keycdc.full_scan" && p != "keycdc.events" && p != "keycdc.takeover" {
				t.Errorf("commit under %q", p)
			}
		case strings.HasPrefix(s.Name(), "GET "):
			gets++
			if s.SpanKind() != trace.SpanKindClient {
				t.Errorf("%s is not a client span", s.Name())
			}
		case s.Name() == "POST token":
			grants++
		}
		for _, a := range s.Attributes() {
			if v := a.Value.Emit(); strings.Contains(v, cred.ClientSecret) {
				t.Errorf("span %s attribute %s holds the client secret", s.Name(), a.Key)
			}
		}
		if strings.Contains(s.Status().Description, cred.ClientSecret) {
			t.Errorf("span %s status holds the client secret", s.Name())
		}
	}
	if gets == 0 || grants == 0 {
		t.Fatalf("%d GET and %d token spans: the Keycloak client made none", gets, grants)
	}
	if int64(gets+grants) != requests.Load() {
		t.Errorf("%d request spans for %d requests Keycloak received", gets+grants, requests.Load())
	}
	if withParent.Load() != requests.Load() {
		t.Errorf("%d of %d requests carried a traceparent header", withParent.Load(), requests.Load())
	}
}
