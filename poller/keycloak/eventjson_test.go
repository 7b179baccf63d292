package keycloak

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/keycdc/keycdc/kctwin"
)

// eventSeeds are event listings: the twin's, for both emulated versions, and hand-written
// ones with the awkward parts of JSON.
func eventSeeds(tb testing.TB) (users, admins []string) {
	tb.Helper()
	for _, v := range []string{kctwin.Version26, kctwin.Version25} {
		tw, err := kctwin.New(kctwin.KeycloakVersion(v))
		if err != nil {
			tb.Fatal(err)
		}
		if err := tw.Generate(kctwin.GenerateSpec{Name: "acme", Users: 20, Groups: 4, Roles: 4, Clients: 4, Events: 60,
			AdminEvents: 40, Seed: 9}); err != nil {
			tb.Fatal(err)
		}
		srv := httptest.NewServer(tw)
		creds, _ := tw.PollerCredentials("acme")
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {creds.ClientID}, "client_secret": {creds.ClientSecret}}
		resp, err := http.PostForm(srv.URL+"/realms/acme/protocol/openid-connect/token", form)
		if err != nil {
			tb.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		get := func(path string) string {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				tb.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		users = append(users, get("/admin/realms/acme/events?max=60"))
		admins = append(admins, get("/admin/realms/acme/admin-events?max=40"))
		srv.Close()
		tw.Close()
	}
	odd := []string{
		`null`, `[]`, ` [ ] `, `[null]`, `[{}]`, `{}`, `[1]`, `["x"]`, `[{"time":null,"type":null,"id":null}]`,
		`[{"time":1.5}]`, `[{"time":1e3}]`, `[{"time":-0}]`, `[{"time":9223372036854775808}]`, `[{"time":"1"}]`,
		`[{"ID":"a","Time":5,"TYPE":"LOGIN","ClientID":"x"}]`, `[{"id":"a","id":"b","id":null}]`,
		`[{"details":{"a":"1"},"details":{"b":null}}]`, `[{"details":{"a":1}}]`, `[{"details":[]}]`, `[{"details":null}]`,
		`[{"userId":"\u00e9\ud83d\ude00\ud800x\\\/\b\f\n\r\t\""}]`, `[{"userId":"\ud800\u0041"}]`, "[{\"userId\":\"\xff\xfe ok \xe2\x82\"}]",
		`[{"userId":"\x"}]`, "[{\"userId\":\"a\nb\"}]", `[{"unknown":{"a":[1,2,{"b":null}],"c":true,"d":false,"e":-1.5e-3}}]`,
		`[{"unknown":[1,2,]}]`, `[{"unknown":01}]`, `[{"unknown":tru}]`, `[{"time":1}] x`, "[{\"time\":1}]\x00", `[{"time":1},]`, `[{"time":1}`,
		`[{"time" 1}]`, `[{time:1}]`, `[{"time":1,}]`, ``, `   `, `[{"type":"é","ipAddress":"::1"}]`,
		`[{"authDetails":null}]`, `[{"authDetails":{"realmId":"r","CLIENTID":"c","userId":null,"x":[]},"authDetails":{"userId":"u"}}]`,
		`[{"authDetails":"x"}]`, `[{"operationType":"CREATE","resourcePath":"users/1","representation":"{\"a\":\"b\"}"}]`,
		`[{"time":-12,"error":"e"}]`, `[{"ſd":"s"}]`, `[{"K":"kelvin"}]`,
	}
	return append(users, odd...), append(admins, odd...)
}

// The hand-written decoders give exactly what encoding/json.Unmarshal gives, and fail
// exactly where it fails.
func TestEventsJSONMatchesEncodingJSON(t *testing.T) {
	users, admins := eventSeeds(t)
	for _, s := range users {
		checkEventsJSON(t, s)
	}
	for _, s := range admins {
		checkAdminEventsJSON(t, s)
	}
}

// Random mutations of the seeds (tokens inserted, bytes dropped or replaced) decode the
// same with both decoders, errors included. FuzzEventsJSON explores further when run with
// -fuzz.
func TestEventsJSONMutations(t *testing.T) {
	users, admins := eventSeeds(t)
	seeds := append(users, admins...)
	toks := []string{`"`, `\`, `\u`, `\ud800`, `\udc00`, `null`, `{`, `}`, `[`, `]`, `,`, `:`, `1`, `-`, `.`, `e`, `"id"`, `"time"`, `"details"`, `"authDetails"`, `"TIME"`, "\xff", "\xe2\x82", `0`, ` `, `"x"`, `true`, `1.5`, `{"a":"b"}`, `\n`, "\n", "\x01"}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 20_000; i++ {
		s := []byte(seeds[rng.IntN(len(seeds))])
		if len(s) > 400 {
			off := rng.IntN(len(s) - 300)
			s = s[off : off+300]
			if rng.IntN(2) == 0 {
				s = append([]byte("["), s...)
			}
		}
		for k := rng.IntN(4); k >= 0; k-- {
			p := 0
			if len(s) > 0 {
				p = rng.IntN(len(s) + 1)
			}
			switch rng.IntN(3) {
			case 0:
				tok := toks[rng.IntN(len(toks))]
				s = append(s[:p], append([]byte(tok), s[p:]...)...)
			case 1:
				if p < len(s) {
					s = append(s[:p], s[p+1:]...)
				}
			case 2:
				if p < len(s) {
					s[p] = byte(rng.IntN(256))
				}
			}
		}
		checkEventsJSON(t, string(s))
		checkAdminEventsJSON(t, string(s))
	}
}

func FuzzEventsJSON(f *testing.F) {
	users, admins := eventSeeds(f)
	for _, s := range append(users, admins...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkEventsJSON(t, s)
		checkAdminEventsJSON(t, s)
	})
}

func checkEventsJSON(t *testing.T, s string) {
	t.Helper()
	var want []Event
	werr := json.Unmarshal([]byte(s), &want)
	var got eventList
	gerr := got.decodeBody(s)
	compareDecoded(t, s, werr, gerr, want, []Event(got))
}

func checkAdminEventsJSON(t *testing.T, s string) {
	t.Helper()
	var want []AdminEvent
	werr := json.Unmarshal([]byte(s), &want)
	var got adminEventList
	gerr := got.decodeBody(s)
	compareDecoded(t, s, werr, gerr, want, []AdminEvent(got))
}

func compareDecoded[T any](t *testing.T, s string, werr, gerr error, want, got []T) {
	t.Helper()
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("input %q: encoding/json error %v, decoder error %v", short(s), werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("input %q:\nencoding/json %s\ndecoder       %s", short(s), dump(want), dump(got))
	}
}

func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return fmt.Sprintf("%s", strings.TrimSpace(string(b)))
}

// BenchmarkEventsJSON decodes a page of 500 user events from the twin with encoding/json
// and with the hand-written decoder.
//
//	go test -run '^$' -bench EventsJSON ./poller/keycloak
func BenchmarkEventsJSON(b *testing.B) {
	tw, err := kctwin.New()
	if err != nil {
		b.Fatal(err)
	}
	defer tw.Close()
	if err := tw.Generate(kctwin.GenerateSpec{Name: "acme", Users: 1000, Groups: 4, Roles: 4, Clients: 4, Events: 2000, Seed: 9}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(tw)
	defer srv.Close()
	creds, _ := tw.PollerCredentials("acme")
	kc, err := New(srv.Client(), Config{URL: srv.URL, ClientID: creds.ClientID, ClientSecret: Secret(creds.ClientSecret)})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := kc.token(b.Context(), "acme", "")
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/admin/realms/acme/events?max=500", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var out []Event
			if err := json.Unmarshal(page, &out); err != nil || len(out) != 500 {
				b.Fatal(err, len(out))
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var out eventList
			if err := out.decodeBody(string(page)); err != nil || len(out) != 500 {
				b.Fatal(err, len(out))
			}
		}
	})
}

// Nesting is limited as encoding/json limits it: an unknown field nested deeper than
// 10,000 levels fails both decoders (and would otherwise exhaust the stack with a few
// megabytes of brackets); just within the limit, both accept it.
func TestEventsJSONNestingLimit(t *testing.T) {
	for _, depth := range []int{9_997, 9_998, 9_999, 20_000, 2_000_000} {
		nest := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		checkEventsJSON(t, `[{"time":1,"type":"LOGIN","x":`+nest+`}]`)
		checkAdminEventsJSON(t, `[{"time":1,"operationType":"CREATE","x":{"y":`+nest+`}}]`)
	}
	var l eventList
	err := l.decodeBody(`[{"x":` + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) + `}]`)
	if err == nil || !strings.Contains(err.Error(), "exceeded max depth") {
		t.Fatalf("20,000 levels: %v, want exceeded max depth", err)
	}
}
