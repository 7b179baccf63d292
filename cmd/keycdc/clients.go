package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keycdc/keycdc/poller/keycloak"
)

// newLogger builds the operator log: text or JSON on w, at the configured level.
func newLogger(c *config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func tlsConfig(caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // opt-in for tests
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// kafkaOpts returns the options every Kafka client of keycdc shares: brokers, client id,
// SASL and TLS.
func kafkaOpts(c *config) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Kafka.Brokers...), kgo.ClientID(c.Kafka.ClientID)}
	user, pass := c.Kafka.SASL.Username, string(c.Kafka.SASL.Password)
	switch c.Kafka.SASL.Mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	}
	if c.Kafka.TLS.Enabled {
		t, err := tlsConfig(c.Kafka.TLS.CAFile, c.Kafka.TLS.CertFile, c.Kafka.TLS.KeyFile, c.Kafka.TLS.Insecure)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls: %w", err)
		}
		opts = append(opts, kgo.DialTLSConfig(t))
	}
	return opts, nil
}

// registryClient returns a Schema Registry client for the configured URL and credentials.
func registryClient(c *config) (*sr.Client, error) {
	opts := []sr.ClientOpt{sr.URLs(c.SchemaRegistry.URL), sr.HTTPClient(&http.Client{Timeout: 30 * time.Second})}
	if c.SchemaRegistry.Username != "" {
		opts = append(opts, sr.BasicAuth(c.SchemaRegistry.Username, string(c.SchemaRegistry.Password)))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema_registry: %w", err)
	}
	return cl, nil
}

// keycloakClient returns the Admin API client; extra options come after the configured ones.
func keycloakClient(c *config, mp metric.MeterProvider, extra ...keycloak.Option) (*keycloak.Client, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = c.Keycloak.Concurrency * 2
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if strings.HasPrefix(c.Keycloak.URL, "https:") && (c.Keycloak.CAFile != "" || c.Keycloak.Insecure) {
		t, err := tlsConfig(c.Keycloak.CAFile, "", "", c.Keycloak.Insecure)
		if err != nil {
			return nil, fmt.Errorf("keycloak.ca_file: %w", err)
		}
		tr.TLSClientConfig = t
	}
	return keycloak.New(&http.Client{Transport: tr}, keycloak.Config{URL: c.Keycloak.URL, ClientID: c.Keycloak.ClientID,
		ClientSecret: keycloak.Secret(c.Keycloak.ClientSecret), AuthRealm: c.Keycloak.AuthRealm},
		append([]keycloak.Option{keycloak.MaxConcurrent(c.Keycloak.Concurrency), keycloak.RequestTimeout(c.Keycloak.RequestTimeout),
			keycloak.MeterProvider(mp)}, extra...)...)
}

// telemetry is the process's meter and tracer providers and, when metrics.listen is set,
// the HTTP server of /metrics and /healthz.
type telemetry struct {
	mp     metric.MeterProvider
	sdk    *sdkmetric.MeterProvider
	tp     trace.TracerProvider
	tsdk   *sdktrace.TracerProvider // nil when tracing is off
	srv    *http.Server
	ln     net.Listener
	mux    *http.ServeMux
	health atomic.Pointer[func() error]
}

// handle serves h under pattern on the metrics address, when there is one.
func (t *telemetry) handle(pattern string, h http.Handler) {
	if t.mux != nil {
		t.mux.Handle(pattern, h)
	}
}

// setHealth sets what /healthz asks: f returns why keycdc is unhealthy, nil when healthy.
// It may be called while the endpoint already serves.
func (t *telemetry) setHealth(f func() error) { t.health.Store(&f) }

// startTelemetry starts the metrics endpoint and, when tracing.otlp_endpoint is set, the
// span exporter.
func startTelemetry(c *config, log *slog.Logger) (*telemetry, error) {
	t := &telemetry{mp: noop.NewMeterProvider(), tp: tnoop.NewTracerProvider()}
	if c.Tracing.OTLPEndpoint != "" {
		if err := t.startTracing(c, log); err != nil {
			return nil, err
		}
	}
	if c.Metrics.Listen == "" {
		return t, nil
	}
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		t.close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	t.sdk = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.mp = t.sdk
	ln, err := net.Listen("tcp", c.Metrics.Listen)
	if err != nil {
		t.close()
		return nil, fmt.Errorf("metrics.listen: %w (set another address, or empty to disable)", err)
	}
	t.ln = ln
	mux := http.NewServeMux()
	t.mux = mux
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if f := t.health.Load(); f != nil {
			if err := (*f)(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, "ok\n")
	})
	t.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := t.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	return t, nil
}

// startTracing exports spans over OTLP/HTTP in batches. The exporter sends in the
// background and drops spans it cannot deliver: a collector that is down costs traces,
// never data or progress. Export failures are logged as warnings.
func (t *telemetry) startTracing(c *config, log *slog.Logger) error {
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(
		strings.TrimRight(c.Tracing.OTLPEndpoint, "/")+"/v1/traces"))
	if err != nil {
		return fmt.Errorf("tracing.otlp_endpoint: %w", err)
	}
	// The OpenTelemetry SDK reports export failures to one process-wide handler.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("trace export failed", "err", err) }))
	t.tsdk = sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.Tracing.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "keycdc"),
			attribute.String("service.version", versionString()))))
	t.tp = t.tsdk
	return nil
}

// addr returns the metrics endpoint's address, or "".
func (t *telemetry) addr() string {
	if t.ln == nil {
		return ""
	}
	return t.ln.Addr().String()
}

func (t *telemetry) close() {
	if t.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		t.srv.Shutdown(ctx)
	}
	if t.sdk != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		t.sdk.Shutdown(ctx)
	}
	if t.tsdk != nil {
		// Flush the spans of the last cycle or batch.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.tsdk.Shutdown(ctx)
	}
}
