package kctwin_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
)

// Benchmarks for the twin's own cost. Run with GOMAXPROCS=1 for the per-core figure:
//
//	go test -run '^$' -bench . -cpu 1 ./kctwin
//
// BenchmarkGenerateMillion builds a 1,000,000-user realm and takes tens of seconds.

type discardWriter struct {
	h http.Header
	n int
	s int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(s int)           { d.s = s }
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

func benchTwin(b *testing.B, users int) (*kctwin.Twin, string) {
	b.Helper()
	tw, err := kctwin.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tw.Close() })
	if err := tw.Generate(kctwin.GenerateSpec{Name: "acme", Users: users, Groups: 50, Roles: 20, Clients: 10, Events: 10000,
		AdminEvents: 1000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	creds, _ := tw.PollerCredentials("acme")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {creds.ClientID}, "client_secret": {creds.ClientSecret}}
	req := httptest.NewRequest("POST", "/realms/acme/protocol/openid-connect/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	tw.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("token: %s", rec.Body.String())
	}
	if err := tw.SetFaults(kctwin.Faults{}); err != nil {
		b.Fatal(err)
	}
	tw.SetTokenLifespan(24 * time.Hour)
	return tw, tok.AccessToken
}

// BenchmarkUsersPageHandler serves 100-user full-representation pages straight through
// ServeHTTP: the twin's own cost per request.
func BenchmarkUsersPageHandler(b *testing.B) {
	tw, tok := benchTwin(b, 100_000)
	reqs := make([]*http.Request, 100)
	for i := range reqs {
		r := httptest.NewRequest("GET", fmt.Sprintf("/admin/realms/acme/users?first=%d&max=100", i*100), nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		reqs[i] = r
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		tw.ServeHTTP(w, reqs[i%len(reqs)])
		if w.s != 200 {
			b.Fatalf("status %d", w.s)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.ReportMetric(float64(w.n)/float64(b.N), "B/page")
}

// BenchmarkUsersPageHTTP does the same over a real loopback socket with keep-alive; the
// client's reading and decoding-free body drain run on the same cores.
func BenchmarkUsersPageHTTP(b *testing.B) {
	tw, tok := benchTwin(b, 100_000)
	srv := httptest.NewServer(tw)
	defer srv.Close()
	client := srv.Client()
	reqs := make([]*http.Request, 100)
	for i := range reqs {
		r, _ := http.NewRequest("GET", fmt.Sprintf("%s/admin/realms/acme/users?first=%d&max=100", srv.URL, i*100), nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		reqs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		resp, err := client.Do(reqs[i%len(reqs)])
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkEventsPage reads 100-event pages in ascending order from a date.
func BenchmarkEventsPage(b *testing.B) {
	tw, tok := benchTwin(b, 1000)
	from := time.Now().Add(-3 * 24 * time.Hour).UnixMilli()
	r := httptest.NewRequest("GET", fmt.Sprintf("/admin/realms/acme/events?direction=asc&dateFrom=%d&max=100", from), nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		tw.ServeHTTP(w, r)
		if w.s != 200 {
			b.Fatalf("status %d", w.s)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkGenerateMillion generates a 1,000,000-user realm and reports the time it took,
// the heap it holds after GC, and the heap after every user's full representation has been
// served once (the per-user JSON cache filled).
func BenchmarkGenerateMillion(b *testing.B) {
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		tw, err := kctwin.New()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := tw.Generate(kctwin.GenerateSpec{Name: "big", Users: 1_000_000, Groups: 2000, Roles: 200, Clients: 50,
			Events: 200_000, AdminEvents: 20_000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		gen := time.Since(start)
		held := heapInUse() - before
		creds, _ := tw.PollerCredentials("big")
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {creds.ClientID}, "client_secret": {creds.ClientSecret}}
		req := httptest.NewRequest("POST", "/realms/big/protocol/openid-connect/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		tw.ServeHTTP(rec, req)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(rec.Body.Bytes(), &tok)
		w := &discardWriter{h: http.Header{}}
		pages := 0
		start = time.Now()
		for first := 0; ; first += 1000 {
			r := httptest.NewRequest("GET", fmt.Sprintf("/admin/realms/big/users?first=%d&max=1000", first), nil)
			r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			n := w.n
			clear(w.h)
			tw.ServeHTTP(w, r)
			if w.s != 200 {
				b.Fatalf("status %d", w.s)
			}
			pages++
			if w.n-n <= 2 {
				break
			}
		}
		scan := time.Since(start)
		cached := heapInUse() - before
		b.ReportMetric(gen.Seconds(), "s/generate")
		b.ReportMetric(float64(held)/(1<<20), "MiB/held")
		b.ReportMetric(float64(cached)/(1<<20), "MiB/held-after-full-scan")
		b.ReportMetric(scan.Seconds(), "s/full-scan")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB/sys")
		tw.Close()
		runtime.KeepAlive(tw)
	}
}
