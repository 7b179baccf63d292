package snapshot

import (
	"context"
	"fmt"
	"time"

	"github.com/keycdc/keycdc/poller/keycloak"
	"github.com/keycdc/keycdc/schemas"
)

// definitions is what a definitions pass learns: clients, roles and service accounts. The
// realm-role and per-client role listings are unpaged, so they are complete answers: a role
// absent from them does not exist.
type definitions struct {
	clients     map[string]keycloak.ClientRep       // by UUID
	clientUUID  map[string]string                   // OAuth clientId → UUID
	realmRoles  map[string]keycloak.Role            // by name
	clientRoles map[string]map[string]keycloak.Role // client UUID → role name → role
	roles       map[string]keycloak.Role            // every role by id
	saUser      map[string]string                   // service-account user id → OAuth clientId
}

func newDefinitions() *definitions {
	return &definitions{
		clients: map[string]keycloak.ClientRep{}, clientUUID: map[string]string{},
		realmRoles: map[string]keycloak.Role{}, clientRoles: map[string]map[string]keycloak.Role{},
		roles: map[string]keycloak.Role{}, saUser: map[string]string{},
	}
}

func (d *definitions) saClientID(userID string) *string {
	if c, ok := d.saUser[userID]; ok {
		return &c
	}
	return nil
}

// Scan reads every entity of the realm, writes what changed since the image, and writes
// tombstones for rows that are gone, each confirmed by a point lookup.
func (s *Scanner) Scan(ctx context.Context, c committer) (Stats, error) {
	if s.broken != nil {
		return Stats{}, fmt.Errorf("snapshot %s: scanner unusable after an earlier commit failure: %w", s.realm, s.broken)
	}
	start := time.Now()
	s.img.gen++
	d := newDiffer(s, c)
	progress := s.progress("full scan", d, start)
	if err := s.definitionsPass(ctx, d, progress); err != nil {
		return d.stats, err
	}
	if err := s.stage(ctx, d, progress, s.usersTask(true), s.usersTask(false), s.groupsTask(), s.roleUsersTask()); err != nil {
		return d.stats, fmt.Errorf("snapshot %s: scan: %w", s.realm, err)
	}
	if err := s.reconcile(ctx, d, progress, Tables()...); err != nil {
		return d.stats, err
	}
	if err := d.flush(ctx); err != nil {
		return d.stats, err
	}
	s.img.compact()
	d.stats.Duration = time.Since(start)
	d.stats.Uncertain, d.stats.Rereads = s.uncertain, s.rereads
	s.log.Info("full scan done", "realm", s.realm, "written", d.stats.total(), "lookups", d.stats.Lookups,
		"duration", d.stats.Duration.Round(time.Millisecond))
	return d.stats, nil
}

func (s *Scanner) progress(what string, d *differ, start time.Time) func() {
	return func() {
		s.log.Info(what+" in progress", "realm", s.realm, "elapsed", time.Since(start).Round(time.Second),
			"users", s.img.rows(schemas.User.Name()), "written", d.stats.total())
	}
}

// definitionsPass lists clients, their roles, realm roles, composites and service-account
// users, and replaces s.defs with what it learnt.
func (s *Scanner) definitionsPass(ctx context.Context, d *differ, progress func()) error {
	defs := newDefinitions()
	err := s.stage(ctx, d, progress, s.clientsTask(defs), s.realmRolesTask(defs))
	if err != nil {
		return fmt.Errorf("snapshot %s: clients and roles: %w", s.realm, err)
	}
	s.defs = defs
	return nil
}

func (s *Scanner) clientsTask(defs *definitions) task {
	return func(ctx context.Context, w *worker) error {
		clients, err := s.kc.Clients(ctx, s.realm, 0, 0)
		if err != nil {
			return err
		}
		p := part{table: schemas.Client}
		for _, c := range clients {
			ch, err := clientChange(c)
			if err != nil {
				return err
			}
			p.changes = append(p.changes, ch)
		}
		fact := func(*Scanner) {
			for _, c := range clients {
				defs.clients[c.ID] = c
				defs.clientUUID[c.ClientID] = c.ID
			}
		}
		if err := w.emit(ctx, frag{parts: []part{p}, fact: fact}); err != nil {
			return err
		}
		for _, c := range clients {
			w.push(s.clientRolesTask(defs, c))
			if c.ServiceAccountsEnabled {
				w.push(s.serviceAccountTask(defs, c))
			}
		}
		return nil
	}
}

func (s *Scanner) serviceAccountTask(defs *definitions, c keycloak.ClientRep) task {
	return func(ctx context.Context, w *worker) error {
		u, err := s.kc.ServiceAccountUser(ctx, s.realm, c.ID)
		if keycloak.IsNotFound(err) || keycloak.IsNoServiceAccount(err) {
			return nil // the client went away or lost its service account meanwhile
		}
		if err != nil {
			return err
		}
		return w.emit(ctx, frag{fact: func(*Scanner) { defs.saUser[u.ID] = c.ClientID }})
	}
}

func (s *Scanner) realmRolesTask(defs *definitions) task {
	return func(ctx context.Context, w *worker) error {
		roles, err := s.kc.RealmRoles(ctx, s.realm)
		if err != nil {
			return err
		}
		return s.emitRoles(ctx, w, defs, roles, nil)
	}
}

func (s *Scanner) clientRolesTask(defs *definitions, c keycloak.ClientRep) task {
	return func(ctx context.Context, w *worker) error {
		roles, err := s.kc.ClientRoles(ctx, s.realm, c.ID)
		if keycloak.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.emitRoles(ctx, w, defs, roles, &c)
	}
}

func (s *Scanner) emitRoles(ctx context.Context, w *worker, defs *definitions, roles []keycloak.Role, c *keycloak.ClientRep) error {
	p := part{table: schemas.Role}
	var clientID *string
	if c != nil {
		clientID = &c.ClientID
	}
	for _, r := range roles {
		ch, err := roleChange(r, clientID)
		if err != nil {
			return err
		}
		p.changes = append(p.changes, ch)
	}
	fact := func(*Scanner) {
		for _, r := range roles {
			defs.roles[r.ID] = r
			if c == nil {
				defs.realmRoles[r.Name] = r
				continue
			}
			m := defs.clientRoles[c.ID]
			if m == nil {
				m = map[string]keycloak.Role{}
				defs.clientRoles[c.ID] = m
			}
			m[r.Name] = r
		}
	}
	if err := w.emit(ctx, frag{parts: []part{p}, fact: fact}); err != nil {
		return err
	}
	for _, r := range roles {
		if r.Composite {
			w.push(s.compositesTask(r.ID))
		}
	}
	return nil
}

// compositesTask replaces the composite rows of one role with what Keycloak lists.
func (s *Scanner) compositesTask(roleID string) task {
	return func(ctx context.Context, w *worker) error {
		roles, err := s.kc.RoleComposites(ctx, s.realm, roleID)
		if keycloak.IsNotFound(err) {
			return w.emit(ctx, frag{parts: []part{{table: schemas.RoleComposite, owner: roleID, deleteOwner: true}}})
		}
		if err != nil {
			return err
		}
		p := part{table: schemas.RoleComposite, owner: roleID, replace: true}
		for _, r := range roles {
			ch, err := roleCompositeChange(roleID, r.ID)
			if err != nil {
				return err
			}
			p.changes = append(p.changes, ch)
		}
		return w.emit(ctx, frag{parts: []part{p}})
	}
}

// userParts returns the rows a full user representation determines completely.
func (s *Scanner) userParts(u keycloak.User) ([]part, error) {
	uc, err := userChange(u, s.defs.saClientID(u.ID))
	if err != nil {
		return nil, err
	}
	attrs, err := userAttributeChanges(u)
	if err != nil {
		return nil, err
	}
	acts, err := requiredActionChanges(u)
	if err != nil {
		return nil, err
	}
	return []part{
		{table: schemas.User, owner: u.ID, replace: true, changes: []schemas.Change{uc}},
		{table: schemas.UserAttribute, owner: u.ID, replace: true, changes: attrs},
		{table: schemas.UserRequiredAction, owner: u.ID, replace: true, changes: acts},
	}, nil
}

// usersTask lists users with the given enabled flag: the count plans pages fetched in
// parallel (the listing goes on past the planned end while pages come back full, because the
// count is only a hint), anchored to each other so that no user is skipped (see paging.go).
func (s *Scanner) usersTask(enabled bool) task {
	return func(ctx context.Context, w *worker) error {
		n, err := s.kc.UsersCount(ctx, s.realm, enabled)
		if err != nil {
			return err
		}
		l := &listing[keycloak.User]{
			what: fmt.Sprintf("users (enabled=%v)", enabled),
			fetch: func(ctx context.Context, first, max int) ([]keycloak.User, error) {
				return s.kc.Users(ctx, s.realm, enabled, first, max)
			},
			id: func(u keycloak.User) string { return u.ID },
			emit: func(ctx context.Context, w *worker, users []keycloak.User) error {
				var f frag
				for _, u := range users {
					if u.ID == "" {
						return fmt.Errorf("users: Keycloak sent a user without an id (username %q)", u.Username)
					}
					ps, err := s.userParts(u)
					if err != nil {
						return err
					}
					f.parts = append(f.parts, ps...)
				}
				return w.emit(ctx, f)
			},
		}
		for _, t := range plannedTasks(s, l, max(1, (n+s.pageSize-1)/s.pageSize)) {
			w.push(t)
		}
		return nil
	}
}

// roleUsersTask lists the direct holders of every role the definitions pass found.
func (s *Scanner) roleUsersTask() task {
	return func(ctx context.Context, w *worker) error {
		if !s.wants(schemas.UserRealmRole) && !s.wants(schemas.UserClientRole) {
			return nil
		}
		for _, r := range s.defs.realmRoles {
			w.push(s.realmRoleUsersTask(r))
		}
		for cu, roles := range s.defs.clientRoles {
			c := s.defs.clients[cu]
			for _, r := range roles {
				w.push(s.clientRoleUsersTask(c, r))
			}
		}
		return nil
	}
}

func (s *Scanner) realmRoleUsersTask(r keycloak.Role) task {
	return seqTask(s, &listing[keycloak.User]{
		what: fmt.Sprintf("users of role %q", r.Name),
		fetch: func(ctx context.Context, first, max int) ([]keycloak.User, error) {
			return s.kc.RealmRoleUsers(ctx, s.realm, r.Name, first, max)
		},
		id: func(u keycloak.User) string { return u.ID },
		emit: func(ctx context.Context, w *worker, users []keycloak.User) error {
			p := part{table: schemas.UserRealmRole}
			for _, u := range users {
				ch, err := realmRoleMappingChange(u.ID, r)
				if err != nil {
					return err
				}
				p.changes = append(p.changes, ch)
			}
			return w.emit(ctx, frag{parts: []part{p}})
		},
	}, 0, "", 0)
}

func (s *Scanner) clientRoleUsersTask(c keycloak.ClientRep, r keycloak.Role) task {
	return seqTask(s, &listing[keycloak.User]{
		what: fmt.Sprintf("users of role %q of client %q", r.Name, c.ClientID),
		fetch: func(ctx context.Context, first, max int) ([]keycloak.User, error) {
			return s.kc.ClientRoleUsers(ctx, s.realm, c.ID, r.Name, first, max)
		},
		id: func(u keycloak.User) string { return u.ID },
		emit: func(ctx context.Context, w *worker, users []keycloak.User) error {
			p := part{table: schemas.UserClientRole}
			for _, u := range users {
				ch, err := clientRoleMappingChange(u.ID, c.ClientID, c.ID, r)
				if err != nil {
					return err
				}
				p.changes = append(p.changes, ch)
			}
			return w.emit(ctx, frag{parts: []part{p}})
		},
	}, 0, "", 0)
}

// groupsTask walks the group tree from the (unpaged) top level down through paged
// children, and lists every group's direct members.
func (s *Scanner) groupsTask() task {
	return func(ctx context.Context, w *worker) error {
		groups, err := s.kc.Groups(ctx, s.realm, 0, 0)
		if err != nil {
			return fmt.Errorf("top-level groups: %w", err)
		}
		return s.emitGroups(ctx, w, groups, "", s.wants(schemas.GroupMember))
	}
}

// emitGroups writes group rows and queues their children (and, when members is set, their
// members).
func (s *Scanner) emitGroups(ctx context.Context, w *worker, groups []keycloak.Group, parent string, members bool) error {
	p := part{table: schemas.Group}
	var pp *string
	if parent != "" {
		pp = &parent
	}
	for _, g := range groups {
		ch, err := groupChange(g, pp)
		if err != nil {
			return err
		}
		p.changes = append(p.changes, ch)
	}
	fact := func(s *Scanner) {
		for _, g := range groups {
			par := parent
			if g.ParentID != nil {
				par = *g.ParentID
			}
			s.groupParent[g.ID] = par
		}
	}
	if err := w.emit(ctx, frag{parts: []part{p}, fact: fact}); err != nil {
		return err
	}
	for _, g := range groups {
		if members {
			w.push(s.membersTask(g.ID))
		}
		if g.SubGroupCount == nil || *g.SubGroupCount > 0 {
			w.push(s.childrenTask(g.ID, members))
		}
	}
	return nil
}

// childrenTask lists a group's direct sub-groups (and, recursively, theirs).
func (s *Scanner) childrenTask(parent string, members bool) task {
	return seqTask(s, &listing[keycloak.Group]{
		what: "children of group " + parent,
		fetch: func(ctx context.Context, first, max int) ([]keycloak.Group, error) {
			return s.kc.GroupChildren(ctx, s.realm, parent, first, max)
		},
		id: func(g keycloak.Group) string { return g.ID },
		emit: func(ctx context.Context, w *worker, groups []keycloak.Group) error {
			return s.emitGroups(ctx, w, groups, parent, members)
		},
	}, 0, "", 0)
}

// membersTask lists a group's direct members.
func (s *Scanner) membersTask(groupID string) task {
	return seqTask(s, &listing[keycloak.User]{
		what: "members of group " + groupID,
		fetch: func(ctx context.Context, first, max int) ([]keycloak.User, error) {
			return s.kc.GroupMembers(ctx, s.realm, groupID, first, max)
		},
		id: func(u keycloak.User) string { return u.ID },
		emit: func(ctx context.Context, w *worker, users []keycloak.User) error {
			p := part{table: schemas.GroupMember}
			for _, u := range users {
				ch, err := groupMemberChange(groupID, u.ID)
				if err != nil {
					return err
				}
				p.changes = append(p.changes, ch)
			}
			return w.emit(ctx, frag{parts: []part{p}})
		},
	}, 0, "", 0)
}
