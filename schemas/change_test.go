package schemas

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current code")

// TestGoldenAVSC pins the schema texts: a change to an .avsc file must be deliberate (rerun
// with -update) and, once released, backward compatible (see TestCompatWithReleased).
func TestGoldenAVSC(t *testing.T) {
	for _, tab := range Tables() {
		for kind, text := range map[string]string{"key": tab.KeyAVSC(), "value": tab.ValueAVSC()} {
			golden(t, filepath.Join("testdata", "avsc", tab.Name()+"."+kind+".avsc"), []byte(text))
		}
	}
}

// TestGoldenRows pins the encoded bytes of every sample row.
func TestGoldenRows(t *testing.T) {
	for _, tab := range Tables() {
		var b bytes.Buffer
		fmt.Fprintf(&b, "# Sample rows of the %s table as encoded by Table.Upsert: Avro binary bodies without\n", tab.Name())
		fmt.Fprintf(&b, "# the Confluent wire header, in hex. Regenerate with: go test ./schemas -run TestGolden -update\n")
		for _, s := range samples() {
			if s.table != tab {
				continue
			}
			c, err := tab.Upsert(s.key, s.value)
			if err != nil {
				t.Fatalf("%s %s: %v", tab.Name(), s.name, err)
			}
			fmt.Fprintf(&b, "%s.key %x\n%s.value %x\n", s.name, c.Key, s.name, c.Value)
		}
		golden(t, filepath.Join("testdata", "rows", tab.Name()+".txt"), b.Bytes())
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the current output (run with -update if the change is intended):\n got: %s\nwant: %s", path, got, want)
	}
}

// goldenRow is one encoded sample read back from a golden rows file.
type goldenRow struct {
	table      *Table
	name       string
	key, value []byte
}

// readGoldenRows reads testdata/rows-style files from dir.
func readGoldenRows(t *testing.T, dir string) []goldenRow {
	t.Helper()
	var rows []goldenRow
	for _, tab := range Tables() {
		f, err := os.Open(filepath.Join(dir, tab.Name()+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]int{} // index into rows
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			label, hx, ok := strings.Cut(line, " ")
			name, part, ok2 := strings.Cut(label, ".")
			b, err := hex.DecodeString(hx)
			if !ok || !ok2 || err != nil {
				t.Fatalf("%s: bad line %q", f.Name(), line)
			}
			i, seen := byName[name]
			if !seen {
				i = len(rows)
				byName[name] = i
				rows = append(rows, goldenRow{table: tab, name: name})
			}
			r := &rows[i]
			if part == "key" {
				r.key = b
			} else {
				r.value = b
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		c, err := s.table.Upsert(s.key, s.value)
		if err != nil {
			t.Fatalf("%s %s: %v", s.table, s.name, err)
		}
		if c.Table != s.table || c.Value == nil {
			t.Fatalf("%s %s: Upsert gave %+v", s.table, s.name, c)
		}
		key, err := s.table.DecodeKey(c.Key)
		if err != nil {
			t.Fatalf("%s %s: %v", s.table, s.name, err)
		}
		if want := rowOf(s.key); !reflect.DeepEqual(key, want) {
			t.Errorf("%s %s key:\n got %#v\nwant %#v", s.table, s.name, key, want)
		}
		value, err := s.table.DecodeValue(c.Value)
		if err != nil {
			t.Fatalf("%s %s: %v", s.table, s.name, err)
		}
		if want := rowOf(s.value); !reflect.DeepEqual(value, want) {
			t.Errorf("%s %s value:\n got %#v\nwant %#v", s.table, s.name, value, want)
		}
		d, err := s.table.Delete(s.key)
		if err != nil || d.Table != s.table || !bytes.Equal(d.Key, c.Key) || d.Value != nil {
			t.Errorf("%s %s: Delete = %+v, %v", s.table, s.name, d, err)
		}
	}
}

// TestMapEncodingIsDeterministic: the poller compares hashes of encoded values, so equal
// rows must encode to equal bytes although Go randomises map iteration.
func TestMapEncodingIsDeterministic(t *testing.T) {
	details := map[string]string{}
	for i := range 50 {
		details[fmt.Sprintf("k%02d", i)] = fmt.Sprint(i)
	}
	row := EventRow{ID: "e", Time: sampleTime, Type: "LOGIN", Details: details}
	first, err := Event.Upsert(row.Key(), row)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := Event.Upsert(row.Key(), &row)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Value, first.Value) {
			t.Fatal("the same row encoded to different bytes")
		}
	}
	got, err := Event.DecodeValue(first.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got["details"], details) {
		t.Errorf("details = %v", got["details"])
	}
}

func TestUpsertRefusesOtherTypes(t *testing.T) {
	user := UserRow{ID: "u", Username: "u"}
	var nilRow *UserRow
	for _, c := range []struct {
		name       string
		tab        *Table
		key, value any
	}{
		{"another table's key", User, GroupKey{ID: "u"}, user},
		{"a value as key", User, user, user},
		{"another table's row", Group, GroupKey{ID: "g"}, user},
		{"a nil pointer", User, user.Key(), nilRow},
		{"nil", User, nil, user},
		{"a map", User, map[string]any{"id": "u"}, user},
	} {
		if _, err := c.tab.Upsert(c.key, c.value); err == nil {
			t.Errorf("%s: Upsert accepted it", c.name)
		}
	}
	if _, err := User.Delete(GroupKey{ID: "g"}); err == nil {
		t.Error("Delete accepted another table's key")
	}
}

func TestDecodeRejectsBadBodies(t *testing.T) {
	good, err := User.Upsert(UserKey{ID: "u"}, UserRow{ID: "u", Username: "n", Email: ptr("e")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"truncated", good.Value[:len(good.Value)-1]},
		{"trailing byte", append(append([]byte(nil), good.Value...), 0)},
		{"string longer than the body", []byte{0x7e}},
		{"negative string length", []byte{0x01}},
		{"varint too long", bytes.Repeat([]byte{0xff}, 11)},
	} {
		_, err := User.DecodeValue(c.body)
		if err == nil || !IsMalformed(err) {
			t.Errorf("%s: DecodeValue error = %v, want a malformed-record error", c.name, err)
		}
	}
	// A union branch index out of range, and a boolean that is neither 0 nor 1.
	bad := append([]byte(nil), good.Value...)
	bad[len("u")+len("n")+2] = 0x04 // the email union: branch 2 of 2
	if _, err := User.DecodeValue(bad); err == nil || !strings.Contains(err.Error(), `"email"`) {
		t.Errorf("bad union branch: error = %v, want one naming the field", err)
	}
	ev, err := Event.Upsert(EventKey{ID: "e"}, EventRow{ID: "e", Type: "LOGIN", Details: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	huge := append(ev.Value[:len(ev.Value)-7:len(ev.Value)-7], 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f) // details: 2^31-1 entries
	if _, err := Event.DecodeValue(huge); err == nil || !IsMalformed(err) {
		t.Errorf("huge map count: error = %v", err)
	}
}
