package keycloak

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Event listings are the bulk of what keycdc reads (a busy realm stores millions of events),
// and encoding/json's reflection spends most of keycdc's CPU on them. eventList and
// adminEventList decode those two listings by hand instead, with the same results as
// encoding/json.Unmarshal into []Event and []AdminEvent (FuzzEventsJSON holds them to it):
// the same fields, null handling, case-insensitive field names, escapes, replacement of
// invalid UTF-8, and an error wherever encoding/json reports one. Strings without escapes
// are slices of the response body, which is held as one string, so a page costs a few
// allocations rather than one per field.

// bodyDecoder is implemented by results that decode a whole response body themselves.
type bodyDecoder interface {
	decodeBody(body string) error
}

type eventList []Event

type adminEventList []AdminEvent

func (l *eventList) decodeBody(body string) error {
	return decodeList((*[]Event)(l), body, (*jsonReader).event)
}

func (l *adminEventList) decodeBody(body string) error {
	return decodeList((*[]AdminEvent)(l), body, (*jsonReader).adminEvent)
}

// decodeList decodes a JSON array (or null) of elements read by elem.
func decodeList[T any](l *[]T, body string, elem func(*jsonReader, *T) error) error {
	r := &jsonReader{s: body}
	if r.null() {
		*l = nil
		return r.end()
	}
	*l = make([]T, 0, 64)
	err := r.array(func() error {
		var zero T
		*l = append(*l, zero)
		return elem(r, &(*l)[len(*l)-1])
	})
	if err != nil {
		return err
	}
	return r.end()
}

// jsonReader reads JSON values from a string.
type jsonReader struct {
	s     string
	i     int
	depth int // arrays and objects open
	// strs holds the strings that optional fields point to, a chunk at a time.
	strs []string
}

type jsonError struct {
	msg string
	off int
}

func (e *jsonError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func (r *jsonReader) fail(format string, a ...any) error {
	return &jsonError{msg: fmt.Sprintf(format, a...), off: r.i}
}

func (r *jsonReader) ws() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (r *jsonReader) peek() byte {
	r.ws()
	if r.i < len(r.s) {
		return r.s[r.i]
	}
	return 0
}

// end checks that only white space follows.
func (r *jsonReader) end() error {
	if r.ws(); r.i < len(r.s) {
		return r.fail("invalid character %q after top-level value", r.s[r.i])
	}
	return nil
}

// null consumes a null literal if one comes next.
func (r *jsonReader) null() bool {
	if r.peek() == 'n' && strings.HasPrefix(r.s[r.i:], "null") {
		r.i += 4
		return true
	}
	return false
}

func (r *jsonReader) literal(lit string) error {
	if !strings.HasPrefix(r.s[r.i:], lit) {
		return r.fail("invalid literal")
	}
	r.i += len(lit)
	return nil
}

// maxDepth is encoding/json's limit on nested arrays and objects. Without one, a
// hostile or broken answer of a few megabytes of '[' would exhaust the goroutine stack,
// which no recover catches.
const maxDepth = 10000

// open enters an array or object.
func (r *jsonReader) open() error {
	if r.depth++; r.depth > maxDepth {
		return r.fail("exceeded max depth")
	}
	r.i++
	return nil
}

// array calls elem for each element of an array; elem reads the element.
func (r *jsonReader) array(elem func() error) error {
	if r.peek() != '[' {
		return r.fail("expected an array")
	}
	if err := r.open(); err != nil {
		return err
	}
	defer func() { r.depth-- }()
	if r.peek() == ']' {
		r.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return nil
		default:
			return r.fail("expected ',' or ']' in an array")
		}
	}
}

// object calls member with each key of an object; member reads the value.
func (r *jsonReader) object(member func(key string) error) error {
	if r.peek() != '{' {
		return r.fail("expected an object")
	}
	if err := r.open(); err != nil {
		return err
	}
	defer func() { r.depth-- }()
	if r.peek() == '}' {
		r.i++
		return nil
	}
	for {
		if r.peek() != '"' {
			return r.fail("expected a member name")
		}
		k, err := r.str()
		if err != nil {
			return err
		}
		if r.peek() != ':' {
			return r.fail("expected ':' after a member name")
		}
		r.i++
		if err := member(k); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return nil
		default:
			return r.fail("expected ',' or '}' in an object")
		}
	}
}

// str reads a string.
func (r *jsonReader) str() (string, error) {
	if r.peek() != '"' {
		return "", r.fail("expected a string")
	}
	r.i++
	start := r.i
	ascii := true
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			v := r.s[start:r.i]
			if !ascii && !utf8.ValidString(v) {
				r.i = start
				return r.unquote()
			}
			r.i++
			return v, nil
		case c == '\\':
			r.i = start
			return r.unquote()
		case c < 0x20:
			return "", r.fail("invalid character in string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
		r.i++
	}
	return "", r.fail("unexpected end of JSON input in a string")
}

// unquote reads the rest of a string from r.i (just after the quote) that holds escapes
// or invalid UTF-8, as encoding/json does: each invalid byte becomes U+FFFD, and so does a
// \u escape of an unpaired surrogate.
func (r *jsonReader) unquote() (string, error) {
	var b []byte
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return string(b), nil
		case c < 0x20:
			return "", r.fail("invalid character in string")
		case c == '\\':
			if r.i+1 >= len(r.s) {
				return "", r.fail("unexpected end of JSON input in a string")
			}
			switch e := r.s[r.i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := hex4(r.s[r.i+2:])
				if rr < 0 {
					return "", r.fail("invalid \\u escape in string")
				}
				r.i += 6
				if utf16.IsSurrogate(rr) {
					if r.i+1 < len(r.s) && r.s[r.i] == '\\' && r.s[r.i+1] == 'u' {
						if rr2 := hex4(r.s[r.i+2:]); rr2 >= 0 {
							if d := utf16.DecodeRune(rr, rr2); d != unicode.ReplacementChar {
								r.i += 6
								b = utf8.AppendRune(b, d)
								continue
							}
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default:
				return "", r.fail("invalid escape in string")
			}
			r.i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r.i++
		default:
			rr, n := utf8.DecodeRuneInString(r.s[r.i:])
			if rr == utf8.RuneError && n == 1 {
				b = utf8.AppendRune(b, unicode.ReplacementChar)
			} else {
				b = append(b, r.s[r.i:r.i+n]...)
			}
			r.i += n
		}
	}
	return "", r.fail("unexpected end of JSON input in a string")
}

func hex4(s string) rune {
	if len(s) < 4 {
		return -1
	}
	var v rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		v = v<<4 | rune(c)
	}
	return v
}

// number reads a number literal and returns its text.
func (r *jsonReader) number() (string, error) {
	r.ws()
	start := r.i
	digits := func() bool {
		n := r.i
		for r.i < len(r.s) && '0' <= r.s[r.i] && r.s[r.i] <= '9' {
			r.i++
		}
		return r.i > n
	}
	if r.i < len(r.s) && r.s[r.i] == '-' {
		r.i++
	}
	if r.i < len(r.s) && r.s[r.i] == '0' {
		r.i++
	} else if !digits() {
		return "", r.fail("invalid number")
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if !digits() {
			return "", r.fail("invalid number")
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if !digits() {
			return "", r.fail("invalid number")
		}
	}
	return r.s[start:r.i], nil
}

// skip reads any value and drops it.
func (r *jsonReader) skip() error {
	switch c := r.peek(); {
	case c == '"':
		_, err := r.str()
		return err
	case c == '{':
		return r.object(func(string) error { return r.skip() })
	case c == '[':
		return r.array(r.skip)
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		_, err := r.number()
		return err
	case c == 0:
		return r.fail("unexpected end of JSON input")
	default:
		return r.fail("invalid character %q looking for a value", c)
	}
}

// typeError reports a value that does not fit its field. encoding/json reports it too
// (after finishing the document, unless a syntax error comes first): either way the
// listing does not decode.
func (r *jsonReader) typeError(field string) error {
	return r.fail("cannot unmarshal value into field %s", field)
}

// setString reads a string into *dst; null leaves *dst as it is.
func (r *jsonReader) setString(dst *string, field string) error {
	switch r.peek() {
	case '"':
		v, err := r.str()
		*dst = v
		return err
	case 'n':
		return r.literal("null")
	}
	return r.typeError(field)
}

// setOptString reads a string into **dst; null sets *dst to nil.
func (r *jsonReader) setOptString(dst **string, field string) error {
	switch r.peek() {
	case '"':
		v, err := r.str()
		if err != nil {
			return err
		}
		if *dst != nil {
			**dst = v
			return nil
		}
		if len(r.strs) == cap(r.strs) {
			r.strs = make([]string, 0, 256)
		}
		r.strs = append(r.strs, v)
		*dst = &r.strs[len(r.strs)-1]
		return nil
	case 'n':
		*dst = nil
		return r.literal("null")
	}
	return r.typeError(field)
}

// setInt64 reads an integer into *dst; null leaves *dst as it is.
func (r *jsonReader) setInt64(dst *int64, field string) error {
	switch c := r.peek(); {
	case c == '-' || ('0' <= c && c <= '9'):
		at := r.i
		s, err := r.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return &jsonError{msg: "cannot unmarshal number " + s + " into field " + field, off: at}
		}
		*dst = v
		return nil
	case c == 'n':
		return r.literal("null")
	}
	return r.typeError(field)
}

// setDetails reads an object of strings into *dst (adding to a map already there); null
// sets *dst to nil. A null member value is stored as "".
func (r *jsonReader) setDetails(dst *map[string]string, field string) error {
	switch r.peek() {
	case '{':
		if *dst == nil {
			*dst = map[string]string{}
		}
		m := *dst
		return r.object(func(k string) error {
			var v string
			if err := r.setString(&v, field); err != nil {
				return err
			}
			m[k] = v
			return nil
		})
	case 'n':
		*dst = nil
		return r.literal("null")
	}
	return r.typeError(field)
}

// field matches a member name to one of names as encoding/json does: exactly, or else
// case-insensitively. It returns "" for an unknown name.
func field(key string, names ...string) string {
	for _, n := range names {
		if key == n {
			return n
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return n
		}
	}
	return ""
}

var eventFields = []string{"id", "time", "type", "realmId", "clientId", "userId", "sessionId", "ipAddress", "error", "details"}

func (r *jsonReader) event(e *Event) error {
	if r.null() {
		return nil
	}
	if r.peek() != '{' {
		return r.typeError("Event")
	}
	return r.object(func(k string) error {
		switch f := field(k, eventFields...); f {
		case "id":
			return r.setOptString(&e.ID, f)
		case "time":
			return r.setInt64(&e.Time, f)
		case "type":
			return r.setString(&e.Type, f)
		case "realmId":
			return r.setOptString(&e.RealmID, f)
		case "clientId":
			return r.setOptString(&e.ClientID, f)
		case "userId":
			return r.setOptString(&e.UserID, f)
		case "sessionId":
			return r.setOptString(&e.SessionID, f)
		case "ipAddress":
			return r.setOptString(&e.IPAddress, f)
		case "error":
			return r.setOptString(&e.Error, f)
		case "details":
			return r.setDetails(&e.Details, f)
		default:
			return r.skip()
		}
	})
}

var adminEventFields = []string{"id", "time", "realmId", "authDetails", "operationType", "resourceType", "resourcePath",
	"representation", "error", "details"}

var authDetailsFields = []string{"realmId", "clientId", "userId", "ipAddress"}

func (r *jsonReader) adminEvent(e *AdminEvent) error {
	if r.null() {
		return nil
	}
	if r.peek() != '{' {
		return r.typeError("AdminEvent")
	}
	return r.object(func(k string) error {
		switch f := field(k, adminEventFields...); f {
		case "id":
			return r.setOptString(&e.ID, f)
		case "time":
			return r.setInt64(&e.Time, f)
		case "realmId":
			return r.setOptString(&e.RealmID, f)
		case "authDetails":
			return r.authDetails(&e.AuthDetails)
		case "operationType":
			return r.setString(&e.OperationType, f)
		case "resourceType":
			return r.setString(&e.ResourceType, f)
		case "resourcePath":
			return r.setOptString(&e.ResourcePath, f)
		case "representation":
			return r.setOptString(&e.Representation, f)
		case "error":
			return r.setOptString(&e.Error, f)
		case "details":
			return r.setDetails(&e.Details, f)
		default:
			return r.skip()
		}
	})
}

func (r *jsonReader) authDetails(dst **AuthDetails) error {
	switch r.peek() {
	case 'n':
		*dst = nil
		return r.literal("null")
	case '{':
	default:
		return r.typeError("authDetails")
	}
	if *dst == nil {
		*dst = &AuthDetails{}
	}
	a := *dst
	return r.object(func(k string) error {
		switch f := field(k, authDetailsFields...); f {
		case "realmId":
			return r.setOptString(&a.RealmID, f)
		case "clientId":
			return r.setOptString(&a.ClientID, f)
		case "userId":
			return r.setOptString(&a.UserID, f)
		case "ipAddress":
			return r.setOptString(&a.IPAddress, f)
		default:
			return r.skip()
		}
	})
}
