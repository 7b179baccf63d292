package snapshot

import (
	"context"
	"fmt"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

// reconcile decides the fate of every row of tables that the running pass did not see.
// Nothing is tombstoned on the evidence of a listing alone, because offset paging skips
// rows while a realm changes: entities are looked up by id (round one), then relation rows
// are decided from complete answers — the unpaged role listings, or a lookup of the user's
// own role mappings or groups (round two).
func (s *Scanner) reconcile(ctx context.Context, d *differ, progress func(), tables ...*schemas.Table) error {
	in := map[string]bool{}
	for _, t := range tables {
		in[t.Name()] = s.wants(t)
	}
	gone := &goneSet{users: map[string]bool{}, groups: map[string]bool{}, roles: map[string]bool{}}

	// Round one: entities.
	var seed []task
	seen := map[string]bool{}
	collect := func(t *schemas.Table, mk func(id string) task) {
		if !in[t.Name()] {
			return
		}
		s.img.unseen(t.Name(), func(owner string, _ []byte) {
			if !seen[t.Name()+"/"+owner] {
				seen[t.Name()+"/"+owner] = true
				seed = append(seed, mk(owner))
			}
		})
	}
	// A user's rows in user, user_attribute and user_required_action all come from its
	// representation: a user none of them saw is looked up once, whichever are written.
	lookupUser := func(id string) task { return s.lookupUserTask(id, gone) }
	userOwner := func(t *schemas.Table) {
		if !in[t.Name()] {
			return
		}
		s.img.unseen(t.Name(), func(owner string, _ []byte) {
			if !seen["user/"+owner] {
				seen["user/"+owner] = true
				seed = append(seed, lookupUser(owner))
			}
		})
	}
	userOwner(schemas.User)
	userOwner(schemas.UserAttribute)
	userOwner(schemas.UserRequiredAction)
	collect(schemas.Group, func(id string) task { return s.lookupGroupTask(id, gone) })
	collect(schemas.Role, func(id string) task { return s.lookupRoleTask(id, gone) })
	collect(schemas.Client, func(id string) task { return s.lookupClientTask(id) })
	d.stats.Lookups += len(seed)
	if len(seed) > 0 {
		if err := s.stage(ctx, d, progress, seed...); err != nil {
			return fmt.Errorf("snapshot %s: confirming entities: %w", s.realm, err)
		}
	}

	// Round two: relations.
	seed = seed[:0]
	var direct []part
	needRoles := map[string]bool{}
	if in[schemas.UserRealmRole.Name()] {
		s.img.unseen(schemas.UserRealmRole.Name(), func(user string, key []byte) {
			cols, err := s.keyColumns(key)
			if err != nil || len(cols) != 2 {
				return
			}
			if _, ok := s.defs.realmRoles[cols[1]]; !ok || gone.users[user] {
				direct = append(direct, part{table: schemas.UserRealmRole, changes: []schemas.Change{{Table: schemas.UserRealmRole, Key: key}}})
				return
			}
			needRoles[user] = true
		})
	}
	if in[schemas.UserClientRole.Name()] {
		s.img.unseen(schemas.UserClientRole.Name(), func(user string, key []byte) {
			cols, err := s.keyColumns(key)
			if err != nil || len(cols) != 3 {
				return
			}
			exists := false
			if cu, ok := s.defs.clientUUID[cols[1]]; ok {
				_, exists = s.defs.clientRoles[cu][cols[2]]
			}
			if !exists || gone.users[user] {
				direct = append(direct, part{table: schemas.UserClientRole, changes: []schemas.Change{{Table: schemas.UserClientRole, Key: key}}})
				return
			}
			needRoles[user] = true
		})
	}
	needGroups := map[string][]string{} // user → groups whose membership rows were unseen
	if in[schemas.GroupMember.Name()] {
		s.img.unseen(schemas.GroupMember.Name(), func(group string, key []byte) {
			cols, err := s.keyColumns(key)
			if err != nil || len(cols) != 2 {
				return
			}
			user := cols[1]
			if gone.users[user] || gone.groups[group] {
				direct = append(direct, part{table: schemas.GroupMember, changes: []schemas.Change{{Table: schemas.GroupMember, Key: key}}})
				return
			}
			needGroups[user] = append(needGroups[user], group)
		})
	}
	needComposites := map[string]bool{}
	if in[schemas.RoleComposite.Name()] {
		s.img.unseen(schemas.RoleComposite.Name(), func(role string, key []byte) {
			r, ok := s.defs.roles[role]
			if gone.roles[role] || (ok && !r.Composite) {
				direct = append(direct, part{table: schemas.RoleComposite, changes: []schemas.Change{{Table: schemas.RoleComposite, Key: key}}})
				return
			}
			needComposites[role] = true
		})
	}
	if len(direct) > 0 {
		if err := d.apply(ctx, frag{parts: direct}); err != nil {
			return err
		}
	}
	for u := range needRoles {
		seed = append(seed, s.roleMappingsTask(u, gone))
	}
	for u, groups := range needGroups {
		seed = append(seed, s.userGroupsTask(u, groups))
	}
	for r := range needComposites {
		seed = append(seed, s.compositesTask(r))
	}
	d.stats.Lookups += len(seed)
	if len(seed) > 0 {
		if err := s.stage(ctx, d, progress, seed...); err != nil {
			return fmt.Errorf("snapshot %s: confirming memberships: %w", s.realm, err)
		}
	}
	return nil
}

// goneSet records entities that lookups confirmed deleted. Written only by facts applied
// in the diff loop; read there too.
type goneSet struct {
	users, groups, roles map[string]bool
}

// keyColumns decodes a key whose columns are all strings.
func (s *Scanner) keyColumns(key []byte) ([]string, error) {
	owner, rest, err := splitKey(key)
	if err != nil {
		return nil, err
	}
	more, err := avroStrings(rest)
	if err != nil {
		return nil, err
	}
	return append([]string{string(owner)}, more...), nil
}

// userGoneParts drops every row owned by a deleted user. Its group memberships are keyed
// by group and are removed by the caller.
func userGoneParts(id string) []part {
	var ps []part
	for _, t := range []*schemas.Table{schemas.User, schemas.UserAttribute, schemas.UserRequiredAction,
		schemas.UserRealmRole, schemas.UserClientRole} {
		ps = append(ps, part{table: t, owner: id, deleteOwner: true})
	}
	return ps
}

func (s *Scanner) lookupUserTask(id string, gone *goneSet) task {
	return func(ctx context.Context, w *worker) error {
		u, err := s.kc.User(ctx, s.realm, id)
		if keycloak.IsNotFound(err) {
			return w.emit(ctx, frag{parts: userGoneParts(id), fact: func(*Scanner) { gone.users[id] = true }})
		}
		if err != nil {
			return fmt.Errorf("look up user %s: %w", id, err)
		}
		ps, err := s.userParts(u)
		if err != nil {
			return err
		}
		return w.emit(ctx, frag{parts: ps})
	}
}

func (s *Scanner) lookupGroupTask(id string, gone *goneSet) task {
	return func(ctx context.Context, w *worker) error {
		g, err := s.kc.Group(ctx, s.realm, id)
		if keycloak.IsNotFound(err) {
			return w.emit(ctx, frag{
				parts: []part{
					{table: schemas.Group, changes: []schemas.Change{{Table: schemas.Group, Key: keyOf(id)}}},
					{table: schemas.GroupMember, owner: id, deleteOwner: true},
				},
				fact: func(*Scanner) { gone.groups[id] = true },
			})
		}
		if err != nil {
			return fmt.Errorf("look up group %s: %w", id, err)
		}
		ch, err := groupChange(g, nil)
		if err != nil {
			return err
		}
		if err := w.emit(ctx, frag{parts: []part{{table: schemas.Group, changes: []schemas.Change{ch}}}}); err != nil {
			return err
		}
		if s.wants(schemas.GroupMember) {
			w.push(s.membersTask(id)) // the listing that missed the group missed its members too
		}
		return nil
	}
}

func (s *Scanner) lookupRoleTask(id string, gone *goneSet) task {
	return func(ctx context.Context, w *worker) error {
		r, err := s.kc.RoleByID(ctx, s.realm, id)
		if keycloak.IsNotFound(err) {
			return w.emit(ctx, frag{
				parts: []part{
					{table: schemas.Role, changes: []schemas.Change{{Table: schemas.Role, Key: keyOf(id)}}},
					{table: schemas.RoleComposite, owner: id, deleteOwner: true},
				},
				fact: func(*Scanner) { gone.roles[id] = true },
			})
		}
		if err != nil {
			return fmt.Errorf("look up role %s: %w", id, err)
		}
		var clientID *string
		if r.ClientRole {
			c, ok := s.defs.clients[r.ContainerID]
			if !ok {
				if c, err = s.kc.Client(ctx, s.realm, r.ContainerID); err != nil {
					return fmt.Errorf("look up client %s of role %s: %w", r.ContainerID, id, err)
				}
			}
			clientID = &c.ClientID
		}
		ch, err := roleChange(r, clientID)
		if err != nil {
			return err
		}
		if err := w.emit(ctx, frag{parts: []part{{table: schemas.Role, changes: []schemas.Change{ch}}}}); err != nil {
			return err
		}
		if r.Composite {
			w.push(s.compositesTask(id))
		}
		return nil
	}
}

func (s *Scanner) lookupClientTask(id string) task {
	return func(ctx context.Context, w *worker) error {
		c, err := s.kc.Client(ctx, s.realm, id)
		if keycloak.IsNotFound(err) {
			return w.emit(ctx, frag{parts: []part{{table: schemas.Client, changes: []schemas.Change{{Table: schemas.Client, Key: keyOf(id)}}}}})
		}
		if err != nil {
			return fmt.Errorf("look up client %s: %w", id, err)
		}
		ch, err := clientChange(c)
		if err != nil {
			return err
		}
		return w.emit(ctx, frag{parts: []part{{table: schemas.Client, changes: []schemas.Change{ch}}}})
	}
}

// roleMappingsTask replaces a user's realm and client role rows with the user's own,
// complete list of direct mappings.
func (s *Scanner) roleMappingsTask(userID string, gone *goneSet) task {
	return func(ctx context.Context, w *worker) error {
		m, err := s.kc.UserRoleMappings(ctx, s.realm, userID)
		if keycloak.IsNotFound(err) {
			return w.emit(ctx, frag{parts: userGoneParts(userID), fact: func(*Scanner) { gone.users[userID] = true }})
		}
		if err != nil {
			return fmt.Errorf("role mappings of user %s: %w", userID, err)
		}
		ps, err := roleMappingParts(userID, m)
		if err != nil {
			return err
		}
		return w.emit(ctx, frag{parts: ps})
	}
}

func roleMappingParts(userID string, m keycloak.Mappings) ([]part, error) {
	realm := part{table: schemas.UserRealmRole, owner: userID, replace: true}
	for _, r := range m.RealmMappings {
		ch, err := realmRoleMappingChange(userID, r)
		if err != nil {
			return nil, err
		}
		realm.changes = append(realm.changes, ch)
	}
	client := part{table: schemas.UserClientRole, owner: userID, replace: true}
	for clientID, cm := range m.ClientMappings {
		if cm.Client != "" {
			clientID = cm.Client
		}
		for _, r := range cm.Mappings {
			ch, err := clientRoleMappingChange(userID, clientID, cm.ID, r)
			if err != nil {
				return nil, err
			}
			client.changes = append(client.changes, ch)
		}
	}
	return []part{realm, client}, nil
}

// userGroupsTask decides unseen membership rows of one user from the user's complete list
// of groups.
func (s *Scanner) userGroupsTask(userID string, unseen []string) task {
	return func(ctx context.Context, w *worker) error {
		groups, err := s.allUserGroups(ctx, userID)
		p := part{table: schemas.GroupMember}
		if keycloak.IsNotFound(err) {
			for _, g := range unseen {
				p.changes = append(p.changes, schemas.Change{Table: schemas.GroupMember, Key: keyOf(g, userID)})
			}
			return w.emit(ctx, frag{parts: append(userGoneParts(userID), p)})
		}
		if err != nil {
			return err
		}
		member := map[string]bool{}
		for _, g := range groups {
			member[g.ID] = true
			ch, err := groupMemberChange(g.ID, userID)
			if err != nil {
				return err
			}
			p.changes = append(p.changes, ch)
		}
		for _, g := range unseen {
			if !member[g] {
				p.changes = append(p.changes, schemas.Change{Table: schemas.GroupMember, Key: keyOf(g, userID)})
			}
		}
		return w.emit(ctx, frag{parts: []part{p}})
	}
}

// allUserGroups reads a user's complete list of groups, anchored like every listing; a
// list that keeps shifting is an error (the caller's decision would be a guess).
func (s *Scanner) allUserGroups(ctx context.Context, userID string) ([]keycloak.Group, error) {
	for attempt := 0; ; attempt++ {
		var all []keycloak.Group
		last, sound := "", true
		for first := 0; ; first += s.pageSize {
			qf, qm := s.pageRange(first)
			page, err := s.kc.UserGroups(ctx, s.realm, userID, qf, qm)
			if err != nil {
				return nil, fmt.Errorf("groups of user %s: %w", userID, err)
			}
			a, own := anchor(page, first, func(g keycloak.Group) string { return g.ID })
			if first > 0 && !fits(a, last, true, len(own)) {
				sound = false
				break
			}
			all = append(all, own...)
			if len(own) < s.pageSize {
				break
			}
			last = own[len(own)-1].ID
		}
		if sound {
			return all, nil
		}
		if attempt+1 == maxAttempts {
			return nil, fmt.Errorf("groups of user %s kept changing while being read", userID)
		}
	}
}
