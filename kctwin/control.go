package kctwin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Control endpoints live under /_twin/, outside Keycloak's path space. They need no token
// and are never subject to faults or counted in stats.
//
//	GET    /_twin/stats                     request accounting (Stats)
//	DELETE /_twin/stats                     reset it
//	GET    /_twin/faults                    faults in force (durations as Go strings, "250ms")
//	PUT    /_twin/faults                    replace them (same JSON)
//	POST   /_twin/faults/fail-next          {"statuses":[503,429]}: answer the next requests so
//	POST   /_twin/tokens/revoke             invalidate every issued token
//	PUT    /_twin/tokens/lifespan           {"lifespan":"30s"}: lifespan of tokens issued from now
//	POST   /_twin/events/expire             run the event expiration once (ExpireEvents)
//	GET    /_twin/realms                    [{realm, clientId, clientSecret, tokenPath}]
//	GET    /_twin/realms/{realm}/dump       the realm's ground truth (Dump format)
//	POST   /_twin/realms/{realm}/events     inject a user event (Event JSON)
//	POST   /_twin/realms/{realm}/admin-events  inject an admin event (AdminEvent JSON)
//	GET    /_twin/activity                  the running activity ({} when none)
//	PUT    /_twin/activity                  start or replace it: {"realm","eventsPerSecond","changesPerSecond","seed"}
//	DELETE /_twin/activity                  stop it
func (t *Twin) controlRoutes() {
	c := t.control
	c.HandleFunc("GET /_twin/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, t.Stats()) })
	c.HandleFunc("DELETE /_twin/stats", func(w http.ResponseWriter, r *http.Request) {
		t.ResetStats()
		w.WriteHeader(204)
	})
	c.HandleFunc("GET /_twin/faults", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, faultsToJSON(t.Faults())) })
	c.HandleFunc("PUT /_twin/faults", func(w http.ResponseWriter, r *http.Request) {
		var fj faultsJSON
		if !readJSON(w, r, &fj) {
			return
		}
		f, err := fj.faults()
		if err == nil {
			err = t.SetFaults(f)
		}
		if err != nil {
			writeJSON(w, 400, errBody{Error: err.Error()})
			return
		}
		writeJSON(w, 200, faultsToJSON(t.Faults()))
	})
	c.HandleFunc("POST /_twin/faults/fail-next", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Statuses []int `json:"statuses"`
		}
		if !readJSON(w, r, &b) {
			return
		}
		if err := t.FailNext(b.Statuses...); err != nil {
			writeJSON(w, 400, errBody{Error: err.Error()})
			return
		}
		w.WriteHeader(204)
	})
	c.HandleFunc("POST /_twin/tokens/revoke", func(w http.ResponseWriter, r *http.Request) {
		t.RevokeTokens()
		w.WriteHeader(204)
	})
	c.HandleFunc("PUT /_twin/tokens/lifespan", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Lifespan string `json:"lifespan"`
		}
		if !readJSON(w, r, &b) {
			return
		}
		d, err := time.ParseDuration(b.Lifespan)
		if err != nil || d < time.Second {
			writeJSON(w, 400, errBody{Error: fmt.Sprintf("lifespan %q: want a duration of at least 1s", b.Lifespan)})
			return
		}
		t.SetTokenLifespan(d)
		w.WriteHeader(204)
	})
	c.HandleFunc("POST /_twin/events/expire", func(w http.ResponseWriter, r *http.Request) {
		t.ExpireEvents()
		w.WriteHeader(204)
	})
	c.HandleFunc("GET /_twin/realms", func(w http.ResponseWriter, r *http.Request) {
		out := []Credentials{}
		for _, n := range t.Realms() {
			if c, err := t.PollerCredentials(n); err == nil {
				out = append(out, c)
			}
		}
		writeJSON(w, 200, out)
	})
	c.HandleFunc("GET /_twin/realms/{realm}/dump", func(w http.ResponseWriter, r *http.Request) {
		b, err := t.Dump(r.PathValue("realm"))
		if err != nil {
			writeJSON(w, 404, errBody{Error: err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	c.HandleFunc("POST /_twin/realms/{realm}/events", injectHandler(t.InjectEvent))
	c.HandleFunc("POST /_twin/realms/{realm}/admin-events", injectHandler(t.InjectAdminEvent))
	c.HandleFunc("GET /_twin/activity", func(w http.ResponseWriter, r *http.Request) {
		a, ok := t.Activity()
		if !ok {
			writeJSON(w, 200, struct{}{})
			return
		}
		writeJSON(w, 200, a)
	})
	c.HandleFunc("PUT /_twin/activity", func(w http.ResponseWriter, r *http.Request) {
		var a Activity
		if !readJSON(w, r, &a) {
			return
		}
		if err := t.StartActivity(a); err != nil {
			writeJSON(w, 400, errBody{Error: err.Error()})
			return
		}
		writeJSON(w, 200, a)
	})
	c.HandleFunc("DELETE /_twin/activity", func(w http.ResponseWriter, r *http.Request) {
		t.StopActivity()
		w.WriteHeader(204)
	})
	c.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, errBody{Error: "no such control endpoint"})
	})
}

// injectHandler serves a control endpoint that stores one event of type E in {realm}.
func injectHandler[E any](inject func(realmName string, e E) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var e E
		if !readJSON(w, r, &e) {
			return
		}
		id, err := inject(r.PathValue("realm"), e)
		controlResult(w, id, err)
	}
}

func controlResult(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, 404, errBody{Error: err.Error()})
	case err != nil:
		writeJSON(w, 400, errBody{Error: err.Error()})
	default:
		writeJSON(w, 201, map[string]string{"id": id})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":"encoding"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, 400, errBody{Error: "bad request body: " + err.Error()})
		return false
	}
	return true
}

// faultsJSON is Faults on the wire, durations as Go duration strings.
type faultsJSON struct {
	Latency       string   `json:"latency"`
	Rate          float64  `json:"rate"`
	Statuses      []int    `json:"statuses,omitempty"`
	RetryAfter    int      `json:"retryAfter,omitempty"`
	SlowRate      float64  `json:"slowRate"`
	SlowFor       string   `json:"slowFor"`
	HangRate      float64  `json:"hangRate"`
	HangFor       string   `json:"hangFor"`
	Routes        []string `json:"routes,omitempty"`
	Seed          uint64   `json:"seed,omitempty"`
	MaxConcurrent int      `json:"maxConcurrent"`
}

func faultsToJSON(f Faults) faultsJSON {
	return faultsJSON{Latency: f.Latency.String(), Rate: f.Rate, Statuses: f.Statuses, RetryAfter: f.RetryAfter,
		SlowRate: f.SlowRate, SlowFor: f.SlowFor.String(), HangRate: f.HangRate, HangFor: f.HangFor.String(),
		Routes: f.Routes, Seed: f.Seed, MaxConcurrent: f.MaxConcurrent}
}

func (fj faultsJSON) faults() (Faults, error) {
	f := Faults{Rate: fj.Rate, Statuses: fj.Statuses, RetryAfter: fj.RetryAfter, SlowRate: fj.SlowRate,
		HangRate: fj.HangRate, Routes: fj.Routes, Seed: fj.Seed, MaxConcurrent: fj.MaxConcurrent}
	for _, d := range []struct {
		name string
		s    string
		dst  *time.Duration
	}{{"latency", fj.Latency, &f.Latency}, {"slowFor", fj.SlowFor, &f.SlowFor}, {"hangFor", fj.HangFor, &f.HangFor}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return f, fmt.Errorf("faults: %s %q: %v", d.name, d.s, err)
		}
		*d.dst = v
	}
	return f, nil
}
