package schemas

import (
	"fmt"
	"reflect"
	"time"
)

// sample is a row of a table used by the golden, round-trip and interoperability tests.
type sample struct {
	name       string // "full" (every optional column set) or "minimal" (every one null)
	table      *Table
	key, value any
}

func ptr[T any](v T) *T { return &v }

var (
	sampleTime    = time.Date(2026, 11, 23, 17, 4, 5, 678_000_000, time.UTC)
	sampleCreated = time.Date(2024, 2, 29, 23, 59, 59, 999_000_000, time.UTC)
)

// samples returns two rows of every table; their encodings are the golden files.
func samples() []sample {
	user := UserRow{
		ID: "7d6e2c1e-4b1f-4c3a-9a57-0f3c2b1d9e01", Username: "jürgen.müller", Email: ptr("jurgen@example.org"),
		FirstName: ptr("Jürgen"), LastName: ptr("Müller"), Enabled: true, EmailVerified: true,
		CreatedTimestamp: ptr(sampleCreated), ServiceAccountClientID: ptr("billing-service"),
		FederationLink: ptr("c0ffee00-ldap-0000-0000-000000000001"),
	}
	userMin := UserRow{ID: "00000000-0000-0000-0000-000000000002", Username: "a"}
	urr := UserRealmRoleRow{UserID: user.ID, RoleName: "offline_access", RoleID: ptr("3f0c6f2a-role-0000-0000-000000000003")}
	urrMin := UserRealmRoleRow{UserID: user.ID, RoleName: "uma_authorization"}
	ucr := UserClientRoleRow{UserID: user.ID, ClientID: "account", RoleName: "manage-account",
		RoleID: ptr("9a1b2c3d-role-0000-0000-000000000004"), ClientUUID: ptr("5e6f7a8b-clnt-0000-0000-000000000005")}
	ucrMin := UserClientRoleRow{UserID: user.ID, ClientID: "account", RoleName: "view-profile"}
	group := GroupRow{ID: "11111111-grp0-0000-0000-000000000006", Name: "child", Path: "/parent/child",
		ParentID: ptr("11111111-grp0-0000-0000-000000000007"), Description: ptr("Team \"child\" — 🧒")}
	groupMin := GroupRow{ID: "11111111-grp0-0000-0000-000000000007", Name: "parent", Path: "/parent"}
	role := RoleRow{ID: "9a1b2c3d-role-0000-0000-000000000004", Name: "manage-account", Description: ptr("${role_manage-account}"),
		Composite: true, ClientRole: true, ContainerID: "5e6f7a8b-clnt-0000-0000-000000000005", ClientID: ptr("account")}
	roleMin := RoleRow{ID: "3f0c6f2a-role-0000-0000-000000000003", Name: "offline_access", ContainerID: "realm-id-0008"}
	client := ClientRow{ID: "5e6f7a8b-clnt-0000-0000-000000000005", ClientID: "account", Name: ptr("${client_account}"),
		Description: ptr("The account console"), Enabled: true, PublicClient: true, Protocol: ptr("openid-connect"),
		BaseURL: ptr("/realms/acme/account/"), RootURL: ptr("${authBaseUrl}"), BearerOnly: true, ServiceAccountsEnabled: true}
	clientMin := ClientRow{ID: "5e6f7a8b-clnt-0000-0000-000000000009", ClientID: "broker"}
	event := EventRow{ID: "e0e0e0e0-evnt-0000-0000-000000000010", Time: sampleTime, Type: "LOGIN_ERROR",
		RealmID: ptr("realm-id-0008"), UserID: ptr(user.ID), SessionID: ptr("sess-0011"), IPAddress: ptr("192.0.2.7"),
		ClientID: ptr("account"), Error: ptr("invalid_user_credentials"),
		Details: map[string]string{"auth_method": "openid-connect", "redirect_uri": "https://app.example.org/cb", "username": "jürgen.müller", "": "empty key"}}
	eventMin := EventRow{ID: "e0e0e0e0-evnt-0000-0000-000000000012", Time: time.UnixMilli(0).UTC(), Type: "LOGOUT"}
	admin := AdminEventRow{ID: "adadadad-evnt-0000-0000-000000000013", Time: sampleTime, OperationType: "CREATE",
		ResourceType: "GROUP_MEMBERSHIP", ResourcePath: ptr("users/" + user.ID + "/groups/" + group.ID),
		RealmID: ptr("realm-id-0008"), AuthRealmID: ptr("master-id-0014"), AuthClientID: ptr("5e6f7a8b-clnt-0000-0000-000000000015"),
		AuthUserID: ptr("admin-0016"), AuthIPAddress: ptr("2001:db8::1"), Error: ptr("unknown_error"),
		Representation: ptr(`{"id":"` + group.ID + `","name":"child"}`),
		Details:        map[string]string{"username": "jürgen.müller", "email": "jurgen@example.org"}}
	adminMin := AdminEventRow{ID: "adadadad-evnt-0000-0000-000000000017", Time: sampleTime.Add(-time.Millisecond),
		OperationType: "ACTION", ResourceType: "USER", Details: map[string]string{}}
	return []sample{
		{"full", User, user.Key(), user},
		{"minimal", User, userMin.Key(), &userMin},
		{"full", UserAttribute, UserAttributeRow{user.ID, "locale", "de"}, UserAttributeRow{user.ID, "locale", "de"}},
		{"empty_value", UserAttribute, &UserAttributeRow{user.ID, "nickname", ""}, UserAttributeRow{user.ID, "nickname", ""}},
		{"full", UserRealmRole, urr.Key(), urr},
		{"minimal", UserRealmRole, urrMin.Key(), urrMin},
		{"full", UserClientRole, ucr.Key(), ucr},
		{"minimal", UserClientRole, ucrMin.Key(), ucrMin},
		{"full", UserRequiredAction, UserRequiredActionRow{user.ID, "VERIFY_EMAIL"}, UserRequiredActionRow{user.ID, "VERIFY_EMAIL"}},
		{"full", Group, group.Key(), group},
		{"minimal", Group, groupMin.Key(), groupMin},
		{"full", GroupMember, GroupMemberRow{group.ID, user.ID}, GroupMemberRow{group.ID, user.ID}},
		{"full", Role, role.Key(), role},
		{"minimal", Role, roleMin.Key(), roleMin},
		{"full", RoleComposite, RoleCompositeRow{role.ID, roleMin.ID}, RoleCompositeRow{role.ID, roleMin.ID}},
		{"full", Client, client.Key(), client},
		{"minimal", Client, clientMin.Key(), clientMin},
		{"full", Event, event.Key(), event},
		{"minimal", Event, eventMin.Key(), &eventMin},
		{"full", AdminEvent, admin.Key(), admin},
		{"empty_details", AdminEvent, adminMin.Key(), adminMin},
	}
}

// rowOf is the Row that decoding v's encoding must give: v's avro-tagged fields with
// pointers dereferenced, nil pointers and maps as untyped nil, and times in UTC.
func rowOf(v any) Row {
	rv := reflect.Indirect(reflect.ValueOf(v))
	row := Row{}
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		name := f.Tag.Get("avro")
		fv := rv.Field(i)
		if fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Map {
			if fv.IsNil() {
				row[name] = nil
				continue
			}
			if fv.Kind() == reflect.Pointer {
				fv = fv.Elem()
			}
		}
		switch x := fv.Interface().(type) {
		case time.Time:
			row[name] = time.UnixMilli(x.UnixMilli()).UTC()
		case string, bool, map[string]string:
			row[name] = x
		default:
			panic(fmt.Sprintf("rowOf: field %s has type %T", name, x))
		}
	}
	return row
}
