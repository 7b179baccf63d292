package schemas

import (
	"context"
	"testing"
)

func benchUser() UserRow {
	return UserRow{
		ID: "7d6e2c1e-4b1f-4c3a-9a57-0f3c2b1d9e01", Username: "jurgen.muller", Email: ptr("jurgen@example.org"),
		FirstName: ptr("Jurgen"), LastName: ptr("Muller"), Enabled: true, EmailVerified: true, CreatedTimestamp: ptr(sampleCreated),
	}
}

func benchEvent() EventRow {
	return EventRow{ID: "e0e0e0e0-evnt-0000-0000-000000000010", Time: sampleTime, Type: "LOGIN",
		RealmID: ptr("realm-id-0008"), UserID: ptr("7d6e2c1e-4b1f-4c3a-9a57-0f3c2b1d9e01"), SessionID: ptr("0f3c2b1d-sess-0000-0000-000000000011"),
		IPAddress: ptr("192.0.2.7"), ClientID: ptr("account-console"),
		Details: map[string]string{"auth_method": "openid-connect", "redirect_uri": "https://app.example.org/cb", "username": "jurgen.muller", "code_id": "0f3c2b1d-sess-0000-0000-000000000011"}}
}

func BenchmarkUpsertUser(b *testing.B) {
	row := benchUser()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := User.Upsert(row.Key(), &row); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpsertEvent(b *testing.B) {
	row := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Event.Upsert(row.Key(), &row); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrame(b *testing.B) {
	_, cl := newRegistry(b)
	c := NewCodec(cl)
	if err := c.Register(context.Background(), "t", User); err != nil {
		b.Fatal(err)
	}
	row := benchUser()
	ch, err := User.Upsert(row.Key(), &row)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Frame("t", ch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		tab  *Table
		row  func() (key, value any)
	}{
		{"user", User, func() (any, any) { r := benchUser(); return r.Key(), r }},
		{"event", Event, func() (any, any) { r := benchEvent(); return r.Key(), r }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, cl := newRegistry(b)
			c := NewCodec(cl)
			if err := c.Register(context.Background(), "t", bc.tab); err != nil {
				b.Fatal(err)
			}
			ch, err := bc.tab.Upsert(bc.row())
			if err != nil {
				b.Fatal(err)
			}
			key, value, err := c.Frame("t", ch)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decode(ctx, "t", key, value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
