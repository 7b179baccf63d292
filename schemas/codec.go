package schemas

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Codec puts Changes into the Confluent wire format and takes them out again. It registers
// the tables' schemas under the subjects <topic>-key and <topic>-value (TopicNameStrategy),
// remembers the ids for Frame, and fetches and caches writer schemas by id for Decode.
//
// A Codec is safe for concurrent use. It logs nothing.
type Codec struct {
	cl     *sr.Client
	compat *avro.SchemaCompatibility

	mu      sync.RWMutex
	topics  map[string]registration
	writers map[int]*writerSchema // by schema id
}

type registration struct {
	table          *Table
	keyID, valueID uint32
}

// writerSchema is a schema records were written with, as found in the registry.
type writerSchema struct {
	table *Table
	key   bool
	dec   *rowDecoder
}

// Decoded is a record decoded by Codec.Decode.
type Decoded struct {
	Table *Table
	Key   Row
	Value Row // nil for a tombstone
}

// NewCodec returns a Codec that talks to the registry through cl.
func NewCodec(cl *sr.Client) *Codec {
	return &Codec{
		cl:      cl,
		compat:  avro.NewSchemaCompatibility(),
		topics:  make(map[string]registration),
		writers: make(map[int]*writerSchema),
	}
}

// headerLen is the Confluent wire header: magic byte 0, then the schema id as a 4-byte
// big-endian integer.
const headerLen = 5

// Register registers t's key and value schemas for topic under the subjects <topic>-key and
// <topic>-value and remembers their ids for Frame. Registering the same schema again is a
// no-op returning the same ids.
//
// When a subject already has versions, Register first checks that t's schema can read data
// written with the latest one (backward compatibility), because consumers that already use
// the new schema must still read the topic's older records. A registry may not check this
// itself (or may be configured not to), so it is checked here; an incompatible schema is
// refused with an error naming the subject and the field.
func (c *Codec) Register(ctx context.Context, topic string, t *Table) error {
	keyID, err := c.register(ctx, topic+"-key", t.keyAVSC, t.keySchema)
	if err != nil {
		return err
	}
	valueID, err := c.register(ctx, topic+"-value", t.valueAVSC, t.valueSchema)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.topics[topic] = registration{table: t, keyID: keyID, valueID: valueID}
	c.writers[int(keyID)] = &writerSchema{table: t, key: true, dec: t.keyDec}
	c.writers[int(valueID)] = &writerSchema{table: t, dec: t.valueDec}
	return nil
}

func (c *Codec) register(ctx context.Context, subject, text string, s *avro.RecordSchema) (uint32, error) {
	latest, err := c.cl.SchemaByVersion(ctx, subject, -1)
	switch {
	case err == nil:
		if err := c.checkBackward(subject, latest, s); err != nil {
			return 0, err
		}
	case !isRegistryError(err, sr.ErrSubjectNotFound, sr.ErrVersionNotFound):
		return 0, fmt.Errorf("register subject %q: read latest version: %w", subject, err)
	}
	// Register the schema with its docs (they document the topic) but without the
	// indentation of the file.
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(text)); err != nil {
		return 0, fmt.Errorf("register subject %q: %w", subject, err)
	}
	id, err := c.cl.RegisterSchema(ctx, subject, sr.Schema{Schema: compact.String(), Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("register subject %q: %w", subject, err)
	}
	if id <= 0 || int64(id) > int64(^uint32(0)>>1) {
		return 0, fmt.Errorf("register subject %q: registry returned schema id %d", subject, id)
	}
	return uint32(id), nil
}

// checkBackward checks that reader can read data written with the registered schema.
func (c *Codec) checkBackward(subject string, latest sr.SubjectSchema, reader *avro.RecordSchema) error {
	if latest.Type != sr.TypeAvro {
		return fmt.Errorf("register subject %q: latest version %d is a %s schema, not Avro", subject, latest.Version, latest.Type)
	}
	writer, err := avro.ParseWithCache(latest.Schema.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Errorf("register subject %q: parse latest version %d: %w", subject, latest.Version, err)
	}
	if err := c.compat.Compatible(reader, writer); err != nil {
		return fmt.Errorf("register subject %q: the new schema cannot read data written with version %d (id %d): %s; "+
			"a new field needs a default and a field's type may only widen", subject, latest.Version, latest.ID, c.explain(reader, writer, err))
	}
	return nil
}

// explain names the field that makes reader unable to read writer's data, since hamba's
// verdict does not always say which one it is.
func (c *Codec) explain(reader, writer avro.Schema, verdict error) string {
	r, ok1 := reader.(*avro.RecordSchema)
	w, ok2 := writer.(*avro.RecordSchema)
	if !ok1 || !ok2 {
		return verdict.Error()
	}
	if r.FullName() != w.FullName() {
		return fmt.Sprintf("record %s was registered as %s", r.FullName(), w.FullName())
	}
	wf := make(map[string]*avro.Field, len(w.Fields()))
	for _, f := range w.Fields() {
		wf[f.Name()] = f
	}
	for _, f := range r.Fields() {
		old, ok := wf[f.Name()]
		for _, alias := range f.Aliases() {
			if ok {
				break
			}
			old, ok = wf[alias]
		}
		if !ok {
			if !f.HasDefault() {
				return fmt.Sprintf("field %q is new and has no default", f.Name())
			}
			continue
		}
		if err := c.compat.Compatible(f.Type(), old.Type()); err != nil {
			return fmt.Sprintf("field %q: type %s cannot read the registered %s (%v)", f.Name(), f.Type(), old.Type(), err)
		}
	}
	return verdict.Error()
}

// isRegistryError reports whether err is a registry response with one of the given codes.
func isRegistryError(err error, codes ...*sr.Error) bool {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, c := range codes {
		if re.ErrorCode == c.Code {
			return true
		}
	}
	return false
}

// Frame prepends the Confluent wire header with topic's registered schema ids to the key
// and value of c. A nil value (tombstone) stays nil. The topic must have been registered
// for c's table. Key and value share one allocation.
func (c *Codec) Frame(topic string, ch Change) (key, value []byte, err error) {
	c.mu.RLock()
	reg, ok := c.topics[topic]
	c.mu.RUnlock()
	if !ok {
		return nil, nil, fmt.Errorf("frame %s change: topic %q is not registered with the codec", ch.Table, topic)
	}
	if reg.table != ch.Table {
		return nil, nil, fmt.Errorf("frame %s change: topic %q is registered for table %s", ch.Table, topic, reg.table)
	}
	n := headerLen + len(ch.Key)
	size := n
	if ch.Value != nil {
		size += headerLen + len(ch.Value)
	}
	buf := make([]byte, size)
	putHeader(buf, reg.keyID)
	copy(buf[headerLen:], ch.Key)
	key = buf[:n:n]
	if ch.Value != nil {
		putHeader(buf[n:], reg.valueID)
		copy(buf[n+headerLen:], ch.Value)
		value = buf[n:]
	}
	return key, value, nil
}

func putHeader(b []byte, id uint32) {
	b[0] = 0
	binary.BigEndian.PutUint32(b[1:headerLen], id)
}

// Decode decodes a record of topic in the Confluent wire format. Key and value are each
// decoded with the schema they were written with, fetched from the registry by the id in
// their header (and cached), so records written by older or newer versions of keycdc decode
// too; the table is found from the key record's full name. A nil value is a tombstone.
// Errors for bad records satisfy IsMalformed; topic only appears in error messages.
func (c *Codec) Decode(ctx context.Context, topic string, key, value []byte) (Decoded, error) {
	kw, kb, err := c.writerOf(ctx, key)
	if err != nil {
		return Decoded{}, fmt.Errorf("decode key of topic %q: %w", topic, err)
	}
	if !kw.key {
		return Decoded{}, fmt.Errorf("decode key of topic %q: %w: schema %s is a value schema", topic, ErrMalformed, kw.dec.name)
	}
	d := Decoded{Table: kw.table}
	if d.Key, err = kw.dec.decode(kb); err != nil {
		return Decoded{}, fmt.Errorf("decode key of topic %q: %w", topic, err)
	}
	if value == nil {
		return d, nil
	}
	vw, vb, err := c.writerOf(ctx, value)
	if err != nil {
		return Decoded{}, fmt.Errorf("decode value of topic %q: %w", topic, err)
	}
	if vw.key || vw.table != kw.table {
		return Decoded{}, fmt.Errorf("decode value of topic %q: %w: value schema %s does not go with key schema %s",
			topic, ErrMalformed, vw.dec.name, kw.dec.name)
	}
	if d.Value, err = vw.dec.decode(vb); err != nil {
		return Decoded{}, fmt.Errorf("decode value of topic %q: %w", topic, err)
	}
	return d, nil
}

// writerOf reads the wire header of b and returns the writer schema and the body.
func (c *Codec) writerOf(ctx context.Context, b []byte) (*writerSchema, []byte, error) {
	if len(b) < headerLen {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than the 5-byte wire header", ErrMalformed, len(b))
	}
	if b[0] != 0 {
		return nil, nil, fmt.Errorf("%w: magic byte is %#x, not 0: not in the Confluent wire format", ErrMalformed, b[0])
	}
	id := int(binary.BigEndian.Uint32(b[1:headerLen]))
	w, err := c.writer(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return w, b[headerLen:], nil
}

// writer returns the schema with the given id, from the cache or the registry. Two callers
// missing the cache at once both fetch; the second store is harmless. Failures are not
// cached, so a registry outage heals by itself.
func (c *Codec) writer(ctx context.Context, id int) (*writerSchema, error) {
	c.mu.RLock()
	w, ok := c.writers[id]
	c.mu.RUnlock()
	if ok {
		return w, nil
	}
	s, err := c.cl.SchemaByID(ctx, id)
	if err != nil {
		if isRegistryError(err, sr.ErrSchemaNotFound) {
			return nil, fmt.Errorf("%w: unknown schema id %d: %v", ErrMalformed, id, err)
		}
		return nil, fmt.Errorf("fetch schema id %d: %w", id, err)
	}
	if s.Type != sr.TypeAvro {
		return nil, fmt.Errorf("%w: schema id %d is a %s schema, not Avro", ErrMalformed, id, s.Type)
	}
	parsed, err := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: parse schema id %d: %v", ErrMalformed, id, err)
	}
	dec, err := compileRecord(parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: schema id %d: %v", ErrMalformed, id, err)
	}
	t, key, ok := lookupRecord(dec.name)
	if !ok {
		return nil, fmt.Errorf("%w: schema id %d is record %s, which is no keycdc table", ErrMalformed, id, dec.name)
	}
	w = &writerSchema{table: t, key: key, dec: dec}
	c.mu.Lock()
	c.writers[id] = w
	c.mu.Unlock()
	return w, nil
}
