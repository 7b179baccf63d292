package kctwin

import (
	"strconv"
	"unicode/utf8"
)

// User representations are the hot path (a poller pages through every user), so they are
// encoded by hand and cached per user until the user changes. The cache holds the object
// without its caller-specific "access" member and closing brace.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal, escaping like encoding/json.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendField(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendStrField(b []byte, name, v string) []byte {
	return appendJSONString(appendField(b, name), v)
}

func appendBoolField(b []byte, name string, v bool) []byte {
	return strconv.AppendBool(appendField(b, name), v)
}

func appendStringList(b []byte, l []string) []byte {
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func appendAttrs(b []byte, attrs []attr) []byte {
	b = append(b, '{')
	for i, a := range attrs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, a.key)
		b = append(b, ':')
		b = appendStringList(b, a.values)
	}
	return append(b, '}')
}

// userPrefix returns the cached encoding of u (full or brief) without access and "}".
// Field set follows ModelToRepresentation.toRepresentation / toBriefRepresentation
// (keycloak/keycloak: server-spi-private/src/main/java/org/keycloak/models/utils/
// ModelToRepresentation.java). serviceAccountClientId is not part of either: only the
// export path sets it (services/src/main/java/org/keycloak/exportimport/util/ExportUtils.java).
func (t *Twin) userPrefix(u *user, brief bool) []byte {
	p := &u.full
	if brief {
		p = &u.brief
	}
	if c := p.Load(); c != nil {
		return *c
	}
	sp := t.bufs.get()
	b := append(*sp, `{"id":`...)
	b = appendJSONString(b, u.id)
	b = appendStrField(b, "username", u.username)
	if u.firstName != "" {
		b = appendStrField(b, "firstName", u.firstName)
	}
	if u.lastName != "" {
		b = appendStrField(b, "lastName", u.lastName)
	}
	if u.email != "" {
		b = appendStrField(b, "email", u.email)
	}
	b = appendBoolField(b, "emailVerified", u.emailVerified)
	if !brief && len(u.attrs) > 0 {
		b = appendAttrs(appendField(b, "attributes"), u.attrs)
	}
	b = appendBoolField(b, "enabled", u.enabled)
	b = strconv.AppendInt(appendField(b, "createdTimestamp"), u.created, 10)
	if !brief {
		b = appendBoolField(b, "totp", false)
	}
	if u.federationLink != "" {
		b = appendStrField(b, "federationLink", u.federationLink)
	}
	if !brief {
		b = append(appendField(b, "disableableCredentialTypes"), '[', ']')
		b = appendStringList(appendField(b, "requiredActions"), u.requiredActions)
		b = append(appendField(b, "notBefore"), '0')
	}
	// Keep an exact-size copy: a million cached users should not carry slack.
	c := make([]byte, len(b))
	copy(c, b)
	*sp = b
	t.bufs.put(sp)
	p.Store(&c)
	return c
}

// appendUser appends u's representation with the caller's access map.
func (t *Twin) appendUser(b []byte, u *user, brief bool, access []byte) []byte {
	b = append(b, t.userPrefix(u, brief)...)
	if access != nil {
		b = append(b, access...)
	}
	return append(b, '}')
}

// accessJSON is the "access" member of a single user read, as UserPermissions.getAccess
// reports it; 26.x adds resetPassword.
func accessJSON(p perms, v26 bool) []byte {
	m := p.has(roleManageUsers)
	b := []byte(`,"access":{"manageGroupMembership":`)
	b = strconv.AppendBool(b, m)
	if v26 {
		b = appendBoolField(b, "resetPassword", m)
	}
	b = appendBoolField(b, "view", p.has(roleViewUsers))
	b = appendBoolField(b, "mapRoles", m)
	b = appendBoolField(b, "impersonate", m && p.has(roleImpersonation))
	b = appendBoolField(b, "manage", m)
	return append(b, '}')
}

// listAccessJSON is the "access" member of GET /users entries: on 26.2 the one-key map of
// UserPermissionEvaluator.getAccessForListing, on 25.0 the full getAccess map.
func listAccessJSON(p perms, v26 bool) []byte {
	if !v26 {
		return accessJSON(p, false)
	}
	b := []byte(`,"access":{"manage":`)
	b = strconv.AppendBool(b, p.has(roleManageUsers))
	return append(b, '}')
}
