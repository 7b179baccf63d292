package schemas

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func newRegistry(t testing.TB) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

func topicOf(tab *Table) string { return "keycdc.acme." + tab.Name() }

// registerAll registers every table on its topic.
func registerAll(t testing.TB, c *Codec) {
	t.Helper()
	for _, tab := range Tables() {
		if err := c.Register(context.Background(), topicOf(tab), tab); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg, cl := newRegistry(t)
	producer := NewCodec(cl)
	registerAll(t, producer)
	// A second codec, as a sink would have, knows no ids and fetches them from the registry.
	consumer := NewCodec(cl)
	for _, s := range samples() {
		topic := topicOf(s.table)
		ch, err := s.table.Upsert(s.key, s.value)
		if err != nil {
			t.Fatal(err)
		}
		key, value, err := producer.Frame(topic, ch)
		if err != nil {
			t.Fatal(err)
		}
		for name, framed := range map[string][]byte{"key": key, "value": value} {
			sub := topic + "-" + name
			latest, ok := reg.GetSchema(sub, 1)
			if !ok {
				t.Fatalf("subject %s not registered", sub)
			}
			if framed[0] != 0 || int(binary.BigEndian.Uint32(framed[1:5])) != latest.ID {
				t.Errorf("%s header = % x, want magic 0 and id %d", sub, framed[:5], latest.ID)
			}
		}
		if !bytes.Equal(key[5:], ch.Key) || !bytes.Equal(value[5:], ch.Value) {
			t.Errorf("%s %s: framed bodies differ from the change", s.table, s.name)
		}
		for _, c := range []*Codec{producer, consumer} {
			d, err := c.Decode(ctx, topic, key, value)
			if err != nil {
				t.Fatalf("%s %s: %v", s.table, s.name, err)
			}
			if d.Table != s.table || !reflect.DeepEqual(d.Key, rowOf(s.key)) || !reflect.DeepEqual(d.Value, rowOf(s.value)) {
				t.Errorf("%s %s: Decode = %+v", s.table, s.name, d)
			}
		}

		del, err := s.table.Delete(s.key)
		if err != nil {
			t.Fatal(err)
		}
		key, value, err = producer.Frame(topic, del)
		if err != nil || value != nil {
			t.Fatalf("Frame(tombstone) = %x, %x, %v", key, value, err)
		}
		d, err := consumer.Decode(ctx, topic, key, nil)
		if err != nil || d.Table != s.table || d.Value != nil || !reflect.DeepEqual(d.Key, rowOf(s.key)) {
			t.Errorf("%s %s: Decode(tombstone) = %+v, %v", s.table, s.name, d, err)
		}
	}
}

func TestRegisterIsIdempotent(t *testing.T) {
	ctx := context.Background()
	reg, cl := newRegistry(t)
	c := NewCodec(cl)
	for range 2 {
		if err := c.Register(ctx, "t", User); err != nil {
			t.Fatal(err)
		}
	}
	if err := NewCodec(cl).Register(ctx, "t", User); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"t-key", "t-value"} {
		if _, ok := reg.GetSchema(sub, 2); ok {
			t.Errorf("registering the same schema again created version 2 of %s", sub)
		}
	}
	// The registered text is the .avsc file, docs included, without its indentation.
	s, _ := reg.GetSchema("t-value", 1)
	if strings.Contains(s.Schema.Schema, "\n") || !strings.Contains(s.Schema.Schema, `"doc":"A user of the realm`) {
		t.Errorf("registered schema = %.200s", s.Schema.Schema)
	}
}

func TestFrameNeedsRegistration(t *testing.T) {
	_, cl := newRegistry(t)
	c := NewCodec(cl)
	ch, err := User.Upsert(UserKey{ID: "u"}, UserRow{ID: "u", Username: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Frame("t", ch); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("Frame of an unregistered topic: %v", err)
	}
	if err := c.Register(context.Background(), "t", Group); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Frame("t", ch); err == nil || !strings.Contains(err.Error(), "registered for table group") {
		t.Errorf("Frame of a user change on the group topic: %v", err)
	}
}

// editSchema returns t's value schema text changed by edit.
func editSchema(t *testing.T, text string, edit func(fields []any) []any) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	doc["fields"] = edit(doc["fields"].([]any))
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fieldNamed(fields []any, name string) map[string]any {
	for _, f := range fields {
		if m := f.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

// TestRegisterRefusesIncompatible seeds each subject with a schema the current one cannot
// read and checks the refusal names the subject and the field. srfake itself accepts
// anything, so only the codec's own check can refuse.
func TestRegisterRefusesIncompatible(t *testing.T) {
	for _, c := range []struct {
		name, field string
		edit        func([]any) []any
	}{
		{"a required column the registered version lacks", "username", func(fs []any) []any {
			var out []any
			for _, f := range fs {
				if f.(map[string]any)["name"] != "username" {
					out = append(out, f)
				}
			}
			return out
		}},
		{"a changed type", "enabled", func(fs []any) []any {
			fieldNamed(fs, "enabled")["type"] = "string"
			return fs
		}},
		{"an optional column that was required and is now narrower", "created_timestamp", func(fs []any) []any {
			fieldNamed(fs, "created_timestamp")["type"] = []any{"null", "string"}
			return fs
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg, cl := newRegistry(t)
			old := editSchema(t, User.ValueAVSC(), c.edit)
			if _, _, err := reg.RegisterSchema("t-value", sr.Schema{Schema: old}); err != nil {
				t.Fatal(err)
			}
			err := NewCodec(cl).Register(context.Background(), "t", User)
			if err == nil {
				t.Fatal("Register accepted an incompatible schema")
			}
			if !strings.Contains(err.Error(), `"t-value"`) || !strings.Contains(err.Error(), `"`+c.field+`"`) {
				t.Errorf("error does not name the subject and field %q: %v", c.field, err)
			}
			if _, ok := reg.GetSchema("t-value", 2); ok {
				t.Error("the incompatible schema was registered")
			}
		})
	}
}

// TestRegisterAcceptsCompatibleEvolution: a registered version with fewer optional columns,
// or with an extra column the current schema drops, can be read by the current schema.
func TestRegisterAcceptsCompatibleEvolution(t *testing.T) {
	reg, cl := newRegistry(t)
	old := editSchema(t, User.ValueAVSC(), func(fs []any) []any {
		fs = fs[:len(fs)-1] // no federation_link yet
		return append(fs, map[string]any{"name": "legacy", "type": "string"})
	})
	if _, _, err := reg.RegisterSchema("t-value", sr.Schema{Schema: old}); err != nil {
		t.Fatal(err)
	}
	if err := NewCodec(cl).Register(context.Background(), "t", User); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.GetSchema("t-value", 2); !ok {
		t.Error("the compatible schema was not registered as version 2")
	}
}

// TestDecodeOtherVersions decodes records written by an older keycdc (without the last
// column) and a newer one (with an extra column) using their own writer schemas.
func TestDecodeOtherVersions(t *testing.T) {
	ctx := context.Background()
	reg, cl := newRegistry(t)
	c := NewCodec(cl)
	if err := c.Register(ctx, "t", User); err != nil {
		t.Fatal(err)
	}
	keyID := func() int { s, _ := reg.GetSchema("t-key", 1); return s.ID }()
	row := UserRow{ID: "u", Username: "n", Email: ptr("e")}
	ch, err := User.Upsert(row.Key(), row)
	if err != nil {
		t.Fatal(err)
	}
	older := editSchema(t, User.ValueAVSC(), func(fs []any) []any { return fs[:len(fs)-1] })
	newer := editSchema(t, User.ValueAVSC(), func(fs []any) []any {
		return append(fs, map[string]any{"name": "locale", "type": []any{"null", "string"}, "default": nil})
	})
	olderID, _, _ := reg.RegisterSchema("other-value", sr.Schema{Schema: older})
	newerID, _, _ := reg.RegisterSchema("other-value", sr.Schema{Schema: newer})

	frame := func(id int, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), body...)
	}
	key := frame(keyID, ch.Key)
	// federation_link is null, the last byte of the body; the older writer lacks it.
	d, err := c.Decode(ctx, "t", key, frame(olderID, ch.Value[:len(ch.Value)-1]))
	if err != nil {
		t.Fatal(err)
	}
	want := rowOf(row)
	delete(want, "federation_link")
	if !reflect.DeepEqual(d.Value, want) {
		t.Errorf("older writer: %v", d.Value)
	}
	// The newer writer appends locale = "de": union branch 1, then the string.
	d, err = c.Decode(ctx, "t", key, frame(newerID, append(append([]byte(nil), ch.Value...), 2, 4, 'd', 'e')))
	if err != nil {
		t.Fatal(err)
	}
	want = rowOf(row)
	want["locale"] = "de"
	if !reflect.DeepEqual(d.Value, want) {
		t.Errorf("newer writer: %v", d.Value)
	}
}

func TestDecodeErrors(t *testing.T) {
	ctx := context.Background()
	reg, cl := newRegistry(t)
	c := NewCodec(cl)
	registerAll(t, c)
	user, _ := User.Upsert(UserKey{ID: "u"}, UserRow{ID: "u", Username: "n"})
	key, value, _ := c.Frame(topicOf(User), user)
	group, _ := Group.Upsert(GroupKey{ID: "g"}, GroupRow{ID: "g", Name: "g", Path: "/g"})
	gkey, gvalue, _ := c.Frame(topicOf(Group), group)
	foreignID, _, _ := reg.RegisterSchema("foreign-value", sr.Schema{Schema: `{"type":"record","name":"Foo","namespace":"com.example","fields":[{"name":"a","type":"string"}]}`})
	unsupportedID, _, _ := reg.RegisterSchema("odd-value", sr.Schema{Schema: `{"type":"record","name":"User","namespace":"io.keycdc","fields":[{"name":"a","type":"double"}]}`})
	withID := func(id int, b []byte) []byte {
		out := append([]byte(nil), b...)
		binary.BigEndian.PutUint32(out[1:5], uint32(id))
		return out
	}
	for _, tc := range []struct {
		name, want string
		key, value []byte
	}{
		{"short key", "shorter than the 5-byte wire header", key[:4], value},
		{"bad magic byte", "magic byte is 0x1", append([]byte{1}, key[1:]...), value},
		{"unknown schema id", "unknown schema id 99999", withID(99999, key), value},
		{"value schema used for the key", "is a value schema", value, value},
		{"key schema used for the value", "does not go with key schema", key, key},
		{"value of another table", "does not go with key schema", key, gvalue},
		{"body does not fit", `body does not fit io.keycdc.GroupKey`, withID(int(binary.BigEndian.Uint32(gkey[1:5])), append(key[:5:5], 0x7f)), gvalue},
		{"no keycdc table", "which is no keycdc table", key, withID(foreignID, value)},
		{"a type a Row cannot hold", `field "a": type double`, key, withID(unsupportedID, value)},
	} {
		_, err := c.Decode(ctx, "topic-x", tc.key, tc.value)
		if err == nil || !IsMalformed(err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "topic-x") {
			t.Errorf("%s: err = %v, want a malformed-record error containing %q", tc.name, err, tc.want)
		}
	}

	// A registry that cannot be reached is not the record's fault.
	reg.Close()
	_, err := NewCodec(cl).Decode(ctx, "t", key, value)
	if err == nil || IsMalformed(err) {
		t.Errorf("registry down: err = %v, want an error that is not IsMalformed", err)
	}
}

func TestDecodeConcurrently(t *testing.T) {
	ctx := context.Background()
	_, cl := newRegistry(t)
	producer := NewCodec(cl)
	registerAll(t, producer)
	consumer := NewCodec(cl)
	type rec struct {
		topic      string
		key, value []byte
		tab        *Table
	}
	var recs []rec
	for _, s := range samples() {
		ch, _ := s.table.Upsert(s.key, s.value)
		k, v, err := producer.Frame(topicOf(s.table), ch)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec{topicOf(s.table), k, v, s.table})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for _, r := range recs {
				d, err := consumer.Decode(ctx, r.topic, r.key, r.value)
				if err == nil && d.Table != r.tab {
					err = &wrongTable{d.Table, r.tab}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type wrongTable struct{ got, want *Table }

func (w *wrongTable) Error() string {
	return "decoded table " + w.got.Name() + ", want " + w.want.Name()
}

// FuzzDecode feeds arbitrary keys and values to Decode: it must return an error or a Row of
// the allowed types, never panic. The registry knows every table's schemas, so the fuzzer
// reaches the body decoder by keeping a valid header.
func FuzzDecode(f *testing.F) {
	_, cl := newRegistry(f)
	c := NewCodec(cl)
	registerAll(f, c)
	for _, s := range samples() {
		ch, _ := s.table.Upsert(s.key, s.value)
		k, v, _ := c.Frame(topicOf(s.table), ch)
		f.Add(k, v)
		f.Add(k, []byte(nil))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, key, value []byte) {
		if len(value) == 0 {
			value = nil
		}
		d, err := c.Decode(ctx, "t", key, value)
		if err != nil {
			return
		}
		for _, row := range []Row{d.Key, d.Value} {
			for name, v := range row {
				switch v.(type) {
				case nil, string, bool, int64, time.Time, map[string]string:
				default:
					t.Fatalf("column %s holds %T", name, v)
				}
			}
		}
	})
}
