package events

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
	"github.com/keycdc/keycdc/poller/keycloak"
)

// keycdc's own token grants (a CLIENT_LOGIN every few minutes) are left out, but the
// watermark passes them: after ten days of nothing else, a poll of the quiet realm reads
// one page, not every own login since the last other event again and again.
func TestOwnLoginsMoveTheWatermark(t *testing.T) {
	for _, v := range []string{"26.2", "25.0"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t, v, 0, 0)
			var eventCalls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/events") {
					eventCalls.Add(1)
				}
				f.twin.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			cred, _ := f.twin.PollerCredentials("acme")
			kc, err := keycloak.New(&http.Client{Timeout: 10 * time.Second}, keycloak.Config{URL: srv.URL, ClientID: cred.ClientID,
				ClientSecret: keycloak.Secret(cred.ClientSecret)})
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(kc, f.realm, User, PageSize(16), OwnClient(f.owner, false), Clock(func() time.Time { return f.now }))
			if err != nil {
				t.Fatal(err)
			}
			out := newSink(t)
			pos, err := s.Poll(context.Background(), Position{}, start(), out.emit)
			if err != nil {
				t.Fatal(err)
			}
			before := out.records
			for at := f.now.Add(-10 * 24 * time.Hour); at.Before(f.now); at = at.Add(4 * time.Minute) {
				if _, err := f.twin.InjectEvent(f.realm, kctwin.Event{Time: at.UnixMilli(), Type: "CLIENT_LOGIN", ClientID: f.owner}); err != nil {
					t.Fatal(err)
				}
			}
			if pos, err = s.Poll(context.Background(), pos, start(), out.emit); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				eventCalls.Store(0)
				if pos, err = s.Poll(context.Background(), pos, start(), out.emit); err != nil {
					t.Fatal(err)
				}
				if n := eventCalls.Load(); n > 2 {
					t.Fatalf("quiet poll %d read %d pages of keycdc's own logins", i, n)
				}
			}
			if out.records != before {
				t.Fatalf("%d of keycdc's own logins were written", out.records-before)
			}
		})
	}
}
