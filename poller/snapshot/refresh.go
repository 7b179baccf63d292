package snapshot

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

// Hints are what admin events and user events say changed since the last look. They let
// the poller refresh just the touched entities between full scans. The zero value is empty
// and ready to use; a Hints is not safe for concurrent use.
type Hints struct {
	users       map[string]userHint
	memberships map[[2]string]bool // (user, group)
	groups      map[string]bool
	children    map[string]bool // parents whose list of children changed
	topLevel    bool            // a group moved to the top level
	definitions bool            // clients or roles changed: run a definitions pass
}

type userHint uint8

const (
	hintCore   userHint = 1 << iota // the representation: attributes, required actions, ...
	hintRoles                       // direct role mappings
	hintGroups                      // group memberships of a new user
)

func (h *Hints) user(id string, what userHint) {
	if id == "" {
		return
	}
	if h.users == nil {
		h.users = map[string]userHint{}
	}
	h.users[id] |= what
}

// Empty reports whether there is nothing to refresh.
func (h *Hints) Empty() bool {
	return len(h.users) == 0 && len(h.memberships) == 0 && len(h.groups) == 0 && len(h.children) == 0 && !h.definitions &&
		!h.topLevel
}

func (h *Hints) membership(user, group string) {
	if h.memberships == nil {
		h.memberships = map[[2]string]bool{}
	}
	h.memberships[[2]string{user, group}] = true
}

func (h *Hints) group(id string) {
	if h.groups == nil {
		h.groups = map[string]bool{}
	}
	h.groups[id] = true
}

func (h *Hints) child(parent string) {
	if h.children == nil {
		h.children = map[string]bool{}
	}
	h.children[parent] = true
}

// AdminEvent adds what an admin event says changed. resourcePath follows Keycloak's rules
// (relative to /admin/realms/{realm}/; creates end in the new id; a child group's create
// names the parent). Failed operations (error set) change nothing and should not be added.
func (h *Hints) AdminEvent(operationType, resourceType, resourcePath string) {
	seg := strings.Split(strings.Trim(resourcePath, "/"), "/")
	at := func(i int) string {
		if i < len(seg) {
			return seg[i]
		}
		return ""
	}
	switch resourceType {
	case "USER":
		if at(0) == "users" && at(1) != "" {
			w := hintCore
			if operationType == "CREATE" {
				w |= hintRoles | hintGroups // default roles and initial groups come without events
			}
			h.user(at(1), w)
		}
	case "GROUP_MEMBERSHIP":
		if at(0) == "users" && at(2) == "groups" && at(3) != "" {
			h.membership(at(1), at(3))
		}
	case "REALM_ROLE_MAPPING", "CLIENT_ROLE_MAPPING":
		if at(0) == "users" && at(1) != "" {
			h.user(at(1), hintRoles)
		}
	case "GROUP":
		if at(0) == "groups" && at(1) == "" {
			// A group moved to the top level: Keycloak records the bare listing path.
			h.topLevel = true
		}
		if at(0) == "groups" && at(1) != "" {
			if at(2) == "children" {
				h.child(at(1))
			} else {
				h.group(at(1))
			}
		}
	case "REALM_ROLE", "CLIENT_ROLE", "CLIENT":
		h.definitions = true
	}
}

// UserEvent adds what a successful user event says changed.
func (h *Hints) UserEvent(eventType, userID string) {
	switch eventType {
	case "REGISTER", "FEDERATED_IDENTITY_LINK", "IDENTITY_PROVIDER_FIRST_LOGIN", "IDENTITY_PROVIDER_LINK_ACCOUNT":
		h.user(userID, hintCore|hintRoles|hintGroups)
	case "UPDATE_PROFILE", "UPDATE_EMAIL", "VERIFY_EMAIL", "VERIFY_PROFILE", "UPDATE_PASSWORD", "UPDATE_TOTP",
		"REMOVE_TOTP", "UPDATE_CREDENTIAL", "REMOVE_CREDENTIAL", "CUSTOM_REQUIRED_ACTION", "EXECUTE_ACTIONS",
		"EXECUTE_ACTION_TOKEN", "RESET_PASSWORD", "DELETE_ACCOUNT", "REMOVE_FEDERATED_IDENTITY",
		"USER_DISABLED_BY_PERMANENT_LOCKOUT", "USER_DISABLED_BY_TEMPORARY_LOCKOUT":
		h.user(userID, hintCore)
	}
}

// Refresh re-reads the entities h names and writes what changed. It costs a few requests
// per hinted entity; role and client changes cost a definitions pass.
func (s *Scanner) Refresh(ctx context.Context, h *Hints, c committer) (Stats, error) {
	if s.broken != nil {
		return Stats{}, fmt.Errorf("snapshot %s: scanner unusable after an earlier commit failure: %w", s.realm, s.broken)
	}
	start := time.Now()
	d := newDiffer(s, c)
	if h.definitions || s.defs == nil {
		if err := s.definitionsRefresh(ctx, d, h); err != nil {
			return d.stats, err
		}
	}
	var seed []task
	ids := make([]string, 0, len(h.users))
	for id := range h.users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	gone := &goneSet{users: map[string]bool{}, groups: map[string]bool{}, roles: map[string]bool{}}
	for _, id := range ids {
		w := h.users[id]
		if w&hintCore != 0 {
			seed = append(seed, s.lookupUserTask(id, gone))
		}
		if w&hintRoles != 0 && (s.wants(schemas.UserRealmRole) || s.wants(schemas.UserClientRole)) {
			seed = append(seed, s.roleMappingsTask(id, gone))
		}
		if w&hintGroups != 0 && s.wants(schemas.GroupMember) {
			seed = append(seed, s.userGroupsTask(id, nil))
		}
	}
	for m := range h.memberships {
		if s.wants(schemas.GroupMember) {
			seed = append(seed, s.membershipTask(m[0], m[1], gone))
		}
	}
	for g := range h.groups {
		seed = append(seed, s.refreshGroupTask(g))
	}
	for p := range h.children {
		seed = append(seed, s.childrenTask(p, false))
	}
	if h.topLevel {
		seed = append(seed, s.movedToTopTask())
	}
	d.stats.Lookups += len(seed)
	if len(seed) > 0 {
		if err := s.stage(ctx, d, nil, seed...); err != nil {
			return d.stats, fmt.Errorf("snapshot %s: refresh: %w", s.realm, err)
		}
	}
	if len(gone.users) > 0 {
		// Memberships are keyed by group; find the deleted users' rows.
		var p part
		p.table = schemas.GroupMember
		s.img.each(schemas.GroupMember.Name(), func(group string, rest []byte) {
			cols, err := avroStrings(rest)
			if err == nil && len(cols) == 1 && gone.users[cols[0]] {
				p.changes = append(p.changes, schemas.Change{Table: schemas.GroupMember, Key: keyOf(group, cols[0])})
			}
		})
		if err := d.apply(ctx, frag{parts: []part{p}}); err != nil {
			return d.stats, err
		}
	}
	if err := d.flush(ctx); err != nil {
		return d.stats, err
	}
	d.stats.Duration = time.Since(start)
	d.stats.Uncertain, d.stats.Rereads = s.uncertain, s.rereads
	return d.stats, nil
}

// definitionsRefresh re-reads clients and roles, reconciles those tables, moves role
// mappings of renamed roles, and drops mappings of roles that no longer exist.
func (s *Scanner) definitionsRefresh(ctx context.Context, d *differ, h *Hints) error {
	var before map[string]string // service-account user → clientId, as last known
	if s.defs != nil {
		before = s.defs.saUser
	}
	s.img.gen++
	if err := s.definitionsPass(ctx, d, nil); err != nil {
		return err
	}
	if err := s.reconcile(ctx, d, nil, schemas.Client, schemas.Role, schemas.RoleComposite); err != nil {
		return err
	}
	// Roles whose row changed may have been renamed: list their holders under the new name.
	var seed []task
	for id := range d.changed[schemas.Role.Name()] {
		r, ok := s.defs.roles[id]
		if !ok {
			continue
		}
		if !r.ClientRole && s.wants(schemas.UserRealmRole) {
			seed = append(seed, s.realmRoleUsersTask(r))
		} else if c, ok := s.defs.clients[r.ContainerID]; ok && r.ClientRole && s.wants(schemas.UserClientRole) {
			seed = append(seed, s.clientRoleUsersTask(c, r))
		}
	}
	// A renamed client renames every client-role mapping of it.
	for id := range d.changed[schemas.Client.Name()] {
		c, ok := s.defs.clients[id]
		if !ok || !s.wants(schemas.UserClientRole) {
			continue
		}
		for _, r := range s.defs.clientRoles[id] {
			seed = append(seed, s.clientRoleUsersTask(c, r))
		}
	}
	if len(seed) > 0 {
		if err := s.stage(ctx, d, nil, seed...); err != nil {
			return fmt.Errorf("snapshot %s: holders of changed roles: %w", s.realm, err)
		}
	}
	// Mappings of roles that are gone (deleted, or renamed away) are gone: the role
	// listings are complete.
	var stale []part
	s.img.each(schemas.UserRealmRole.Name(), func(user string, rest []byte) {
		cols, err := avroStrings(rest)
		if err != nil || len(cols) != 1 {
			return
		}
		if _, ok := s.defs.realmRoles[cols[0]]; !ok {
			stale = append(stale, part{table: schemas.UserRealmRole, changes: []schemas.Change{{Table: schemas.UserRealmRole, Key: keyOf(user, cols[0])}}})
		}
	})
	s.img.each(schemas.UserClientRole.Name(), func(user string, rest []byte) {
		cols, err := avroStrings(rest)
		if err != nil || len(cols) != 2 {
			return
		}
		if cu, ok := s.defs.clientUUID[cols[0]]; ok {
			if _, ok := s.defs.clientRoles[cu][cols[1]]; ok {
				return
			}
		}
		stale = append(stale, part{table: schemas.UserClientRole, changes: []schemas.Change{{Table: schemas.UserClientRole, Key: keyOf(user, cols[0], cols[1])}}})
	})
	if len(stale) > 0 {
		if err := d.apply(ctx, frag{parts: stale}); err != nil {
			return err
		}
	}
	// Service-account users come and go with their clients, without user events of their
	// own: a new one is read; one whose client is gone or renamed is looked up again (a
	// deleted client takes its service-account user with it, and the lookup says so).
	for uid, clientID := range s.defs.saUser {
		if !s.img.has(schemas.User.Name(), keyOf(uid)) || (before != nil && before[uid] != clientID) {
			h.user(uid, hintCore|hintRoles|hintGroups)
		}
	}
	for uid := range before {
		if _, ok := s.defs.saUser[uid]; !ok {
			h.user(uid, hintCore|hintRoles)
		}
	}
	return nil
}

// membershipTask decides one (user, group) membership from the user's complete group list.
func (s *Scanner) membershipTask(userID, groupID string, gone *goneSet) task {
	return func(ctx context.Context, w *worker) error {
		groups, err := s.allUserGroups(ctx, userID)
		key := keyOf(groupID, userID)
		if keycloak.IsNotFound(err) {
			return w.emit(ctx, frag{
				parts: []part{{table: schemas.GroupMember, changes: []schemas.Change{{Table: schemas.GroupMember, Key: key}}}},
				fact:  func(*Scanner) { gone.users[userID] = true },
			})
		}
		if err != nil {
			return err
		}
		for _, g := range groups {
			if g.ID == groupID {
				ch, err := groupMemberChange(groupID, userID)
				if err != nil {
					return err
				}
				return w.emit(ctx, frag{parts: []part{{table: schemas.GroupMember, changes: []schemas.Change{ch}}}})
			}
		}
		return w.emit(ctx, frag{parts: []part{{table: schemas.GroupMember, changes: []schemas.Change{{Table: schemas.GroupMember, Key: key}}}}})
	}
}

// refreshGroupTask re-reads a group; an update may have renamed or moved it, which changes
// the path of every descendant, so the subtree is walked (without members). A deleted
// group takes its memberships with it, and so do those of its descendants (from the
// image's parent links) that a lookup confirms gone: one of them may have been moved out
// before the deletion, by an event of the same batch whose refresh has not been applied yet.
func (s *Scanner) refreshGroupTask(id string) task {
	return func(ctx context.Context, w *worker) error {
		g, err := s.kc.Group(ctx, s.realm, id)
		if keycloak.IsNotFound(err) {
			// The descendants are read from s.groupParent, in the diff loop.
			desc := make(chan []string, 1)
			err := w.emit(ctx, frag{late: func(s *Scanner) []part {
				desc <- s.groupDescendants(id)
				return groupGoneParts(id)
			}})
			if err != nil {
				return err
			}
			select {
			case ds := <-desc:
				for _, d := range ds {
					w.push(s.confirmGroupGoneTask(d))
				}
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err != nil {
			return fmt.Errorf("refresh group %s: %w", id, err)
		}
		return s.emitGroups(ctx, w, []keycloak.Group{g}, "", false)
	}
}

// movedToTopTask lists the top-level groups and refreshes those the image has under a
// parent, with their subtrees (whose paths changed): Keycloak's admin event of a move to
// the top level names no group.
func (s *Scanner) movedToTopTask() task {
	return func(ctx context.Context, w *worker) error {
		groups, err := s.kc.Groups(ctx, s.realm, 0, 0)
		if err != nil {
			return fmt.Errorf("top-level groups: %w", err)
		}
		// The image's parent links are read in the diff loop.
		moved := make(chan []keycloak.Group, 1)
		err = w.emit(ctx, frag{late: func(s *Scanner) []part {
			var out []keycloak.Group
			for _, g := range groups {
				if p, ok := s.groupParent[g.ID]; ok && p != "" {
					out = append(out, g)
				}
			}
			moved <- out
			return nil
		}})
		if err != nil {
			return err
		}
		select {
		case gs := <-moved:
			if len(gs) == 0 {
				return nil
			}
			return s.emitGroups(ctx, w, gs, "", false)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// confirmGroupGoneTask looks up a descendant of a deleted group: gone, it is tombstoned
// with its memberships; still there (moved elsewhere), its row is refreshed.
func (s *Scanner) confirmGroupGoneTask(id string) task {
	return func(ctx context.Context, w *worker) error {
		g, err := s.kc.Group(ctx, s.realm, id)
		if keycloak.IsNotFound(err) {
			return w.emit(ctx, frag{parts: groupGoneParts(id)})
		}
		if err != nil {
			return fmt.Errorf("confirm group %s is gone: %w", id, err)
		}
		return s.emitGroups(ctx, w, []keycloak.Group{g}, "", false)
	}
}

// groupDescendants lists every descendant of a group from the image's parent links. It
// reads s.groupParent, so it runs in the diff loop.
func (s *Scanner) groupDescendants(id string) []string {
	children := map[string][]string{}
	for g, p := range s.groupParent {
		children[p] = append(children[p], g)
	}
	var out []string
	stack := append([]string(nil), children[id]...)
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, g)
		stack = append(stack, children[g]...)
	}
	return out
}

// groupGoneParts tombstones a group and its memberships.
func groupGoneParts(id string) []part {
	return []part{
		{table: schemas.Group, changes: []schemas.Change{{Table: schemas.Group, Key: keyOf(id)}}},
		{table: schemas.GroupMember, owner: id, deleteOwner: true},
	}
}
