package keycloak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sethvargo/go-retry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"
)

// Secret is a string that never prints: fmt, slog and JSON all show "***".
type Secret string

func (Secret) String() string                 { return "***" }
func (Secret) GoString() string               { return `"***"` }
func (Secret) LogValue() slog.Value           { return slog.StringValue("***") }
func (Secret) MarshalJSON() ([]byte, error)   { return []byte(`"***"`), nil }
func (s Secret) MarshalText() ([]byte, error) { return []byte("***"), nil }

// Config says where Keycloak is and how keycdc authenticates to it.
type Config struct {
	// URL is Keycloak's base URL, e.g. http://127.0.0.1:8080 (append /auth for servers that
	// still use the legacy relative path). Required.
	URL string
	// ClientID and ClientSecret identify the confidential client whose service account
	// keycdc uses. Required.
	ClientID     string
	ClientSecret Secret
	// AuthRealm is the realm that holds the client. Empty means each polled realm
	// authenticates against itself.
	AuthRealm string
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("keycloak.url: required"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("keycloak.url: %q is not an http(s) URL", c.URL))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("keycloak.client_id: required"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("keycloak.client_secret: required (or set KEYCDC_KEYCLOAK_CLIENT_SECRET)"))
	}
	return errors.Join(errs...)
}

// Option configures a Client.
type Option func(*Client)

// MaxConcurrent bounds the number of requests in flight across all callers. Default 8.
func MaxConcurrent(n int) Option { return func(c *Client) { c.maxConcurrent = n } }

// RequestTimeout bounds each HTTP request, including reading its body. Default 30s.
func RequestTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// Retries sets the retry budget for transient failures: at most n retries of one request,
// waiting base·2^k (±20% jitter, capped at max) or the server's Retry-After when longer.
// Default 8 retries, base 200ms, max 15s. n = 0 disables retries.
func Retries(n int, base, max time.Duration) Option {
	return func(c *Client) { c.retries, c.backoffBase, c.backoffMax = n, base, max }
}

// MeterProvider records request counts and durations. Default: no metrics.
func MeterProvider(mp metric.MeterProvider) Option { return func(c *Client) { c.mp = mp } }

// TracerProvider records a client span per HTTP request (token grants included), child of
// the caller's span, and sends W3C trace context to Keycloak so that a Keycloak with
// tracing on joins the same trace. Spans carry method, route template, realm and status;
// never a token, secret or query. Default: no spans.
func TracerProvider(tp trace.TracerProvider) Option { return func(c *Client) { c.tp = tp } }

// Client reads the Keycloak Admin API. It is safe for concurrent use.
type Client struct {
	hc            *http.Client
	cfg           Config
	base          string
	maxConcurrent int
	timeout       time.Duration
	retries       int
	backoffBase   time.Duration
	backoffMax    time.Duration
	mp            metric.MeterProvider
	tp            trace.TracerProvider
	maxBody       int64 // bytes of one answer at most

	tracer   trace.Tracer
	sem      chan struct{}
	requests metric.Int64Counter
	duration metric.Float64Histogram
	now      func() time.Time

	mu     sync.Mutex
	tokens map[string]*tokenState // by auth realm
}

// New returns a Client that sends requests through hc. hc must not be nil (no default
// client: its lack of timeouts is exactly what keycdc must not inherit).
func New(hc *http.Client, cfg Config, opts ...Option) (*Client, error) {
	if hc == nil {
		return nil, errors.New("keycloak: nil *http.Client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		hc: hc, cfg: cfg, base: strings.TrimRight(cfg.URL, "/"),
		maxConcurrent: 8, timeout: 30 * time.Second,
		retries: 8, backoffBase: 200 * time.Millisecond, backoffMax: 15 * time.Second,
		mp: noop.NewMeterProvider(), tp: tnoop.NewTracerProvider(), now: time.Now, maxBody: defaultMaxBody,
		tokens: map[string]*tokenState{},
	}
	for _, o := range opts {
		o(c)
	}
	var errs []error
	if c.maxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("keycloak: MaxConcurrent must be at least 1, got %d", c.maxConcurrent))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("keycloak: RequestTimeout must be positive, got %v", c.timeout))
	}
	if c.retries < 0 || (c.retries > 0 && (c.backoffBase <= 0 || c.backoffMax < c.backoffBase)) {
		errs = append(errs, errors.New("keycloak: Retries needs n >= 0 and 0 < base <= max"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.sem = make(chan struct{}, c.maxConcurrent)
	c.tracer = c.tp.Tracer("github.com/keycdc/keycdc/poller/keycloak")
	m := c.mp.Meter("github.com/keycdc/keycdc/poller/keycloak")
	c.requests, _ = m.Int64Counter("keycdc.keycloak.requests",
		metric.WithDescription("Admin API and token requests sent to Keycloak, by route and outcome"))
	c.duration, _ = m.Float64Histogram("keycdc.keycloak.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of Keycloak requests, by route"))
	return c, nil
}

// ClientID returns the OAuth clientId keycdc authenticates as; its own CLIENT_LOGIN
// events carry it.
func (c *Client) ClientID() string { return c.cfg.ClientID }

type tokenState struct {
	mu      sync.Mutex // held while fetching
	access  string
	expires time.Time // when to fetch a new one (before the real expiry)
}

func (c *Client) authRealm(realm string) string {
	if c.cfg.AuthRealm != "" {
		return c.cfg.AuthRealm
	}
	return realm
}

func (c *Client) tokenFor(realm string) *tokenState {
	c.mu.Lock()
	defer c.mu.Unlock()
	ar := c.authRealm(realm)
	t := c.tokens[ar]
	if t == nil {
		t = &tokenState{}
		c.tokens[ar] = t
	}
	return t
}

// token returns a valid access token for realm, running the grant when the cached one is
// missing, near expiry, or equal to stale (the token a 401 was just answered to).
func (c *Client) token(ctx context.Context, realm, stale string) (string, error) {
	t := c.tokenFor(realm)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.access != "" && t.access != stale && c.now().Before(t.expires) {
		return t.access, nil
	}
	access, lifespan, err := c.grant(ctx, c.authRealm(realm))
	if err != nil {
		t.access = ""
		return "", err
	}
	// Renew at 80% of the lifespan, and at least one second early.
	early := lifespan / 5
	if early < time.Second {
		early = time.Second
	}
	t.access, t.expires = access, c.now().Add(lifespan-early)
	return access, nil
}

// grant runs the client-credentials grant once; the caller's retry loop covers it.
func (c *Client) grant(ctx context.Context, realm string) (string, time.Duration, error) {
	type tokenResponse struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	path := "/realms/" + url.PathEscape(realm) + "/protocol/openid-connect/token"
	form := url.Values{"grant_type": {"client_credentials"}}
	var out tokenResponse
	err := func() (err error) {
		release, err := c.acquire(ctx)
		if err != nil {
			return err
		}
		defer release()
		ctx, span := c.startSpan(ctx, http.MethodPost, routeToken, realm)
		var status int
		defer func() { endSpan(span, status, err) }()
		rctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(string(c.cfg.ClientSecret)))
		start := c.now()
		resp, err := c.hc.Do(req)
		if err != nil {
			c.record(ctx, routeToken, 0, start)
			return fmt.Errorf("POST %s: %w", path, scrubURLError(err))
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		c.record(ctx, routeToken, resp.StatusCode, start)
		if err != nil {
			return fmt.Errorf("POST %s: reading body: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			kc, desc := parseErrorBody(body)
			if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
				return &StatusError{Method: http.MethodPost, Path: path, Status: resp.StatusCode, KCError: kc,
					Description: desc, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now())}
			}
			if resp.StatusCode == http.StatusNotFound && kc == "" {
				kc = "Realm does not exist"
			}
			return &AuthError{Realm: realm, ClientID: c.cfg.ClientID, Status: resp.StatusCode, KCError: kc, Description: desc}
		}
		out = tokenResponse{}
		if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
			if err == nil {
				err = errors.New("no access_token in the answer")
			}
			return &DecodeError{Method: http.MethodPost, Path: path, Err: err}
		}
		return nil
	}()
	if err != nil {
		return "", 0, err
	}
	lifespan := time.Duration(out.ExpiresIn) * time.Second
	if lifespan <= 0 {
		lifespan = 60 * time.Second
	}
	return out.AccessToken, lifespan, nil
}

// acquire takes one of the concurrency slots.
func (c *Client) acquire(ctx context.Context) (func(), error) {
	select {
	case c.sem <- struct{}{}:
		return func() { <-c.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// withRetries runs f until it succeeds, fails permanently, or the retry budget is spent.
func (c *Client) withRetries(ctx context.Context, f func(context.Context) error) error {
	if c.retries == 0 {
		return f(ctx)
	}
	exp := retry.WithCappedDuration(c.backoffMax, retry.WithJitterPercent(20, retry.NewExponential(c.backoffBase)))
	exp = retry.WithMaxRetries(uint64(c.retries), exp)
	var hint time.Duration
	b := retry.BackoffFunc(func() (time.Duration, bool) {
		d, stop := exp.Next()
		if hint > d {
			d = hint
		}
		hint = 0
		return d, stop
	})
	return retry.Do(ctx, b, func(ctx context.Context) error {
		err := f(ctx)
		if err != nil && ctx.Err() == nil && IsRetryable(err) {
			hint = retryAfter(err)
			if hint > c.backoffMax {
				hint = c.backoffMax
			}
			return retry.RetryableError(err)
		}
		return err
	})
}

// get sends an authenticated GET for path (already escaped) with query q and decodes the
// JSON answer into out.
func (c *Client) get(ctx context.Context, realm, route, path string, q url.Values, out any) error {
	full := c.base + path
	if len(q) > 0 {
		full += "?" + q.Encode()
	}
	err := c.withRetries(ctx, func(ctx context.Context) error {
		tok, err := c.token(ctx, realm, "")
		if err != nil {
			return err
		}
		status, err := c.getOnce(ctx, realm, route, full, path, tok, out)
		if status == http.StatusUnauthorized {
			// The token expired early or was revoked: re-authenticate once.
			if tok, err = c.token(ctx, realm, tok); err != nil {
				return err
			}
			status, err = c.getOnce(ctx, realm, route, full, path, tok, out)
			if status == http.StatusUnauthorized {
				return fmt.Errorf("%w; a fresh token was refused too: check that client %q is enabled and its service account may read realm %q",
					err, c.cfg.ClientID, realm)
			}
		}
		if status == http.StatusForbidden {
			var se *StatusError
			errors.As(err, &se)
			return &ForbiddenError{StatusError: se, Realm: realm, Role: neededRole(route)}
		}
		return err
	})
	return err
}

// defaultMaxBody bounds one answer held in memory: 500 admin events carrying 1 MiB
// representations each fit; a server that sends without end does not exhaust memory.
const defaultMaxBody = 1 << 30

// getOnce sends one GET and returns the HTTP status (0 when no answer arrived).
func (c *Client) getOnce(ctx context.Context, realm, route, full, path, tok string, out any) (status int, err error) {
	release, err := c.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	ctx, span := c.startSpan(ctx, http.MethodGet, route, realm)
	defer func() { endSpan(span, status, err) }()
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, full, nil)
	if err != nil {
		return 0, err
	}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	start := c.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.record(ctx, route, 0, start)
		return 0, fmt.Errorf("GET %s: %w", path, scrubURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		c.record(ctx, route, resp.StatusCode, start)
		kc, desc := parseErrorBody(body)
		return resp.StatusCode, &StatusError{Method: http.MethodGet, Path: path, Status: resp.StatusCode,
			KCError: kc, Description: desc, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now())}
	}
	maxBody := c.maxBody
	if bd, ok := out.(bodyDecoder); ok {
		var body strings.Builder
		if n := resp.ContentLength; n > 0 && n <= maxBody {
			body.Grow(int(n))
		}
		n, err := io.Copy(&body, io.LimitReader(resp.Body, maxBody+1))
		c.record(ctx, route, resp.StatusCode, start)
		if err != nil {
			if rctx.Err() != nil {
				err = rctx.Err()
			}
			return resp.StatusCode, fmt.Errorf("GET %s: reading body: %w", path, err)
		}
		if n > maxBody {
			return resp.StatusCode, &DecodeError{Method: http.MethodGet, Path: path,
				Err: fmt.Errorf("answer larger than %d bytes; lower keycloak.page_size", maxBody)}
		}
		if err := bd.decodeBody(body.String()); err != nil {
			return resp.StatusCode, &DecodeError{Method: http.MethodGet, Path: path, Err: err}
		}
		return resp.StatusCode, nil
	}
	// Decode into a fresh value, so that a retried request never keeps fields or map keys
	// of an attempt whose body broke off.
	fresh := reflect.New(reflect.TypeOf(out).Elem())
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxBody))
	err = dec.Decode(fresh.Interface())
	c.record(ctx, route, resp.StatusCode, start)
	if err == nil {
		reflect.ValueOf(out).Elem().Set(fresh.Elem())
	}
	if err != nil {
		if rctx.Err() != nil {
			return resp.StatusCode, fmt.Errorf("GET %s: reading body: %w", path, rctx.Err())
		}
		return resp.StatusCode, &DecodeError{Method: http.MethodGet, Path: path, Err: err}
	}
	return resp.StatusCode, nil
}

// startSpan starts the client span of one HTTP request; endSpan ends it.
func (c *Client) startSpan(ctx context.Context, method, route, realm string) (context.Context, trace.Span) {
	return c.tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route),
			attribute.String("keycloak.realm", realm)))
}

// endSpan records the outcome: the status when an answer came, an error status when the
// request failed. err's text is safe to record: the client's errors never hold a token or
// secret (scrubURLError, StatusError).
func endSpan(span trace.Span, status int, err error) {
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (c *Client) record(ctx context.Context, route string, status int, start time.Time) {
	attrs := metric.WithAttributes(attribute.String("route", route), attribute.Int("status", status))
	c.requests.Add(ctx, 1, attrs)
	c.duration.Record(ctx, c.now().Sub(start).Seconds(), metric.WithAttributes(attribute.String("route", route)))
}

// parseErrorBody extracts Keycloak's {"error": ..., "error_description": ...}; other
// bodies (HTML from a proxy, say) yield a short, single-line excerpt.
func parseErrorBody(body []byte) (kcError, description string) {
	var e struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorMessage     string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error != "" || e.ErrorMessage != "") {
		if e.Error == "" {
			e.Error = e.ErrorMessage
		}
		return e.Error, e.ErrorDescription
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return "", s
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// scrubURLError removes the URL from a *url.Error: the path is reported by the caller and
// query strings are never worth repeating.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
