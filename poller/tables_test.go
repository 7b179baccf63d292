package poller

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keycdc/keycdc/schemas"
)

// A configuration that writes only event tables (a SIEM feed) reads no users, groups,
// roles or clients: a service account with view-events alone suffices, and cycles cost
// only event pages. The events are still written.
func TestEventTablesOnlyReadNoEntities(t *testing.T) {
	h := newHarness(t, time.Now)
	var entityCalls, eventCalls atomic.Int64
	h.useKeycloak(func(r *http.Request) {
		if p := r.URL.Path; strings.Contains(p, "/admin/realms/") {
			if strings.Contains(p, "events") {
				eventCalls.Add(1)
			} else {
				entityCalls.Add(1)
			}
		}
	})
	p := h.poller(Config{Once: true, Tables: []*schemas.Table{schemas.Event, schemas.AdminEvent}})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := entityCalls.Load(); n > 0 {
		t.Errorf("%d entity Admin API requests for a configuration that writes only event tables", n)
	}
	st := p.Status()
	if eventCalls.Load() == 0 || st.Records[schemas.Event.Name()] == 0 || st.Records[schemas.AdminEvent.Name()] == 0 {
		t.Errorf("%d event requests, records %v: the events were not written", eventCalls.Load(), st.Records)
	}
}
