package schemas

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// pythonDecoder decodes Avro bodies with the Apache Avro library for Python. It reads lines
// "<avsc path> <hex body>" on stdin and prints each decoded record as a JSON line, times as
// epoch milliseconds.
const pythonDecoder = `
import datetime, io, json, sys
import avro.io, avro.schema

epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
def plain(v):
    if isinstance(v, datetime.datetime):
        return (v - epoch) // datetime.timedelta(milliseconds=1)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v

schemas = {}
for line in sys.stdin:
    path, body = line.split()
    if path not in schemas:
        with open(path) as f:
            schemas[path] = avro.schema.parse(f.read())
    data = bytes.fromhex(body)
    buf = io.BytesIO(data)
    rec = avro.io.DatumReader(schemas[path]).read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(data):
        raise SystemExit("%s: %d bytes left" % (path, len(data) - buf.tell()))
    print(json.dumps(plain(rec), sort_keys=True))
`

// TestPythonAvroDecodesGolden proves that an independent Avro implementation reads the
// golden encodings with the .avsc files as users get them, and finds the values keycdc's
// own decoder finds. It needs /usr/bin/python3 with the avro package (Debian: python3-avro);
// it is skipped without them unless KEYCDC_REQUIRE_PYTHON_AVRO is set, as it is in CI.
func TestPythonAvroDecodesGolden(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import avro.io, avro.schema").Run(); err != nil {
		if os.Getenv("KEYCDC_REQUIRE_PYTHON_AVRO") == "" {
			t.Skipf("python3-avro not found (%v); install it with apt-get install python3-avro", err)
		}
		t.Fatalf("KEYCDC_REQUIRE_PYTHON_AVRO is set but %s cannot import avro: %v", python, err)
	}
	var in bytes.Buffer
	var want []any
	for _, r := range readGoldenRows(t, filepath.Join("testdata", "rows")) {
		for _, part := range []struct {
			kind string
			body []byte
			dec  func([]byte) (Row, error)
		}{{"key", r.key, r.table.DecodeKey}, {"value", r.value, r.table.DecodeValue}} {
			row, err := part.dec(part.body)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, jsonOf(t, row))
			in.WriteString(filepath.Join("avro", r.table.Name()+"."+part.kind+".avsc") + " " + hex.EncodeToString(part.body) + "\n")
		}
	}
	cmd := exec.Command(python, "-c", pythonDecoder)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python decoder: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for i, w := range want {
		var got any
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("record %d: python decoded %v, keycdc %v", i, got, w)
		}
	}
	if dec.More() {
		t.Error("python printed more records than it was given")
	}
}

// jsonOf turns a Row into what encoding/json gives for the same record printed by Python.
func jsonOf(t *testing.T, row Row) any {
	t.Helper()
	plain := map[string]any{}
	for k, v := range row {
		if tm, ok := v.(time.Time); ok {
			v = tm.UnixMilli()
		}
		plain[k] = v
	}
	b, err := json.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
