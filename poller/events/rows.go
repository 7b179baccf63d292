package events

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

func (s *Stream) isOwnLogin(r record) bool {
	return !s.keepOwn && s.ownClient != "" && r.user != nil && r.user.Type == "CLIENT_LOGIN" &&
		r.user.ClientID != nil && *r.user.ClientID == s.ownClient
}

// maxRepresentation bounds the admin-event representations written (1 MiB): a larger one
// is left out (null) rather than make its record too large for Kafka.
const maxRepresentation = 1 << 20

// change turns a record into a row of the event or admin_event table.
func (s *Stream) change(r record) (schemas.Change, error) {
	t := time.UnixMilli(r.time).UTC()
	if e := r.user; e != nil {
		return schemas.Event.Upsert(schemas.EventKey{ID: r.id}, &schemas.EventRow{
			ID: r.id, Time: t, Type: e.Type, RealmID: e.RealmID, UserID: e.UserID, SessionID: e.SessionID,
			IPAddress: e.IPAddress, ClientID: e.ClientID, Error: e.Error, Details: e.Details,
		})
	}
	e := r.admin
	row := &schemas.AdminEventRow{
		ID: r.id, Time: t, OperationType: e.OperationType, ResourceType: e.ResourceType,
		ResourcePath: e.ResourcePath, RealmID: e.RealmID, Error: e.Error, Details: e.Details,
	}
	if a := e.AuthDetails; a != nil {
		row.AuthRealmID, row.AuthClientID, row.AuthUserID, row.AuthIPAddress = a.RealmID, a.ClientID, a.UserID, a.IPAddress
	}
	if s.representations && e.Representation != nil {
		if len(*e.Representation) > maxRepresentation {
			s.oversized++ // a record this large could never be written; the rest of the event is kept
		} else {
			row.Representation = Redact(*e.Representation)
		}
	}
	return schemas.AdminEvent.Upsert(schemas.AdminEventKey{ID: r.id}, row)
}

// fingerprint is a canonical encoding of every field of an event, for events without
// Keycloak's id.
func (s *Stream) fingerprint(r record) string {
	var b strings.Builder
	str := func(p *string) {
		if p == nil {
			b.WriteString("\x00-")
			return
		}
		b.WriteString("\x00+")
		b.WriteString(strconv.Itoa(len(*p)))
		b.WriteByte(':')
		b.WriteString(*p)
	}
	lit := func(v string) { str(&v) }
	details := func(m map[string]string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		lit(strconv.Itoa(len(keys)))
		for _, k := range keys {
			lit(k)
			lit(m[k])
		}
	}
	lit(strconv.FormatInt(r.time, 10))
	if e := r.user; e != nil {
		lit("user")
		lit(e.Type)
		str(e.RealmID)
		str(e.ClientID)
		str(e.UserID)
		str(e.SessionID)
		str(e.IPAddress)
		str(e.Error)
		details(e.Details)
		return b.String()
	}
	e := r.admin
	lit("admin")
	str(e.RealmID)
	lit(e.OperationType)
	lit(e.ResourceType)
	str(e.ResourcePath)
	str(e.Representation)
	str(e.Error)
	a := e.AuthDetails
	if a == nil {
		a = &keycloak.AuthDetails{}
	}
	str(a.RealmID)
	str(a.ClientID)
	str(a.UserID)
	str(a.IPAddress)
	details(e.Details)
	return b.String()
}

// namespace is the UUID namespace of keycdc's synthetic event ids
// (a random, fixed UUID: 8d0f8a2e-5b1c-4c1e-9a5e-4b8e2f0c7d31).
var namespace = [16]byte{0x8d, 0x0f, 0x8a, 0x2e, 0x5b, 0x1c, 0x4c, 0x1e, 0x9a, 0x5e, 0x4b, 0x8e, 0x2f, 0x0c, 0x7d, 0x31}

// syntheticID is a version-5 UUID over the event's fingerprint and its occurrence number
// among identical events, so that the same event always gets the same id and identical
// events in one millisecond get distinct ones.
func syntheticID(k Kind, fp string, occurrence int) string {
	h := sha1.New()
	h.Write(namespace[:])
	var n [9]byte
	n[0] = byte(k)
	binary.BigEndian.PutUint64(n[1:], uint64(occurrence))
	h.Write(n[:])
	h.Write([]byte(fp))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}

// secretKeys are JSON keys whose values are secrets wherever they appear in an admin
// event's representation.
var secretKeys = map[string]bool{
	"secret": true, "password": true, "value": true, "credentials": true, "registrationaccesstoken": true,
	"client.secret.rotated": true, "secretdata": true,
	"credentialdata": true, "hashedsaltedvalue": true, "salt": true, "privatekey": true, "clientsecret": true,
	"bindcredential": true, "token": true, "accesstoken": true, "refreshtoken": true,
}

// Redact returns an admin event's representation with every secret-bearing field replaced
// by "**********" (as Keycloak's own exports mask secrets), or nil when the text is not JSON
// and therefore cannot be checked.
func Redact(representation string) *string {
	var v any
	if err := json.Unmarshal([]byte(representation), &v); err != nil {
		return nil
	}
	v = redact(v)
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	s := string(b)
	return &s
}

func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			lk := strings.ToLower(k)
			if secretKeys[lk] || strings.HasSuffix(lk, ".private.key") || strings.HasSuffix(lk, ".secret") ||
				strings.Contains(lk, "password") {
				if x != nil {
					t[k] = "**********"
				}
				continue
			}
			t[k] = redact(x)
		}
		return t
	case []any:
		for i := range t {
			t[i] = redact(t[i])
		}
		return t
	default:
		return v
	}
}

// String is for error messages.
func (r record) String() string { return fmt.Sprintf("event %s at %d", r.id, r.time) }
