package postgres

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"testing"
)

func TestJSONObject(t *testing.T) {
	alphabet := []string{"a", "é", "🙂", "\"", "\\", "\n", "\r", "\t", "\x01", "\x1f", "<", ">", "&", "\u2028", "/", " ", "\x7f"}
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		s := ""
		for range rng.IntN(6) {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		return s
	}
	for range 2000 {
		m := map[string]string{}
		for range rng.IntN(5) {
			m[str()] = str()
		}
		b := jsonObject(m)
		var back map[string]string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if !maps.Equal(back, m) {
			t.Fatalf("%q decodes to %q, want %q", b, back, m)
		}
	}
	if got := string(jsonObject(map[string]string{"a": "x\"y"})); got != `{"a":"x\"y"}` {
		t.Fatalf("got %s", got)
	}
}
