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
		if keycloak.IsNotFound(err) {
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
// parallel, and the last planned page continues while pages come back full, because the
// count is only a hint.
func (s *Scanner) usersTask(enabled bool) task {
	return func(ctx context.Context, w *worker) error {
		n, err := s.kc.UsersCount(ctx, s.realm, enabled)
		if err != nil {
			return err
		}
		pages := max(1, (n+s.pageSize-1)/s.pageSize)
		for i := 0; i < pages; i++ {
			w.push(s.userPageTask(enabled, i*s.pageSize, i == pages-1))
		}
		return nil
	}
}

func (s *Scanner) userPageTask(enabled bool, first int, last bool) task {
	return func(ctx context.Context, w *worker) error {
		users, err := s.kc.Users(ctx, s.realm, enabled, first, s.pageSize)
		if err != nil {
			return fmt.Errorf("users page %d: %w", first/s.pageSize, err)
		}
		var f frag
		for _, u := range users {
			if u.ID == "" {
				return fmt.Errorf("users page %d: Keycloak sent a user without an id (username %q)", first/s.pageSize, u.Username)
			}
			ps, err := s.userParts(u)
			if err != nil {
				return err
			}
			f.parts = append(f.parts, ps...)
		}
		if err := w.emit(ctx, f); err != nil {
			return err
		}
		if last && len(users) == s.pageSize {
			w.push(s.userPageTask(enabled, first+s.pageSize, true))
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
			w.push(s.realmRoleUsersTask(r, 0))
		}
		for cu, roles := range s.defs.clientRoles {
			c := s.defs.clients[cu]
			for _, r := range roles {
				w.push(s.clientRoleUsersTask(c, r, 0))
			}
		}
		return nil
	}
}

func (s *Scanner) realmRoleUsersTask(r keycloak.Role, first int) task {
	return func(ctx context.Context, w *worker) error {
		users, err := s.kc.RealmRoleUsers(ctx, s.realm, r.Name, first, s.pageSize)
		if keycloak.IsNotFound(err) {
			return nil // deleted meanwhile; reconciliation confirms per user
		}
		if err != nil {
			return fmt.Errorf("users of role %q: %w", r.Name, err)
		}
		p := part{table: schemas.UserRealmRole}
		for _, u := range users {
			ch, err := realmRoleMappingChange(u.ID, r)
			if err != nil {
				return err
			}
			p.changes = append(p.changes, ch)
		}
		if err := w.emit(ctx, frag{parts: []part{p}}); err != nil {
			return err
		}
		if len(users) == s.pageSize {
			w.push(s.realmRoleUsersTask(r, first+s.pageSize))
		}
		return nil
	}
}

func (s *Scanner) clientRoleUsersTask(c keycloak.ClientRep, r keycloak.Role, first int) task {
	return func(ctx context.Context, w *worker) error {
		users, err := s.kc.ClientRoleUsers(ctx, s.realm, c.ID, r.Name, first, s.pageSize)
		if keycloak.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("users of role %q of client %q: %w", r.Name, c.ClientID, err)
		}
		p := part{table: schemas.UserClientRole}
		for _, u := range users {
			ch, err := clientRoleMappingChange(u.ID, c.ClientID, c.ID, r)
			if err != nil {
				return err
			}
			p.changes = append(p.changes, ch)
		}
		if err := w.emit(ctx, frag{parts: []part{p}}); err != nil {
			return err
		}
		if len(users) == s.pageSize {
			w.push(s.clientRoleUsersTask(c, r, first+s.pageSize))
		}
		return nil
	}
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
			w.push(s.membersTask(g.ID, 0))
		}
		if g.SubGroupCount == nil || *g.SubGroupCount > 0 {
			n := 1
			if g.SubGroupCount != nil {
				n = int(*g.SubGroupCount)
			}
			pages := max(1, (n+s.pageSize-1)/s.pageSize)
			for i := 0; i < pages; i++ {
				w.push(s.childrenTask(g.ID, i*s.pageSize, i == pages-1, members))
			}
		}
	}
	return nil
}

func (s *Scanner) childrenTask(parent string, first int, last, members bool) task {
	return func(ctx context.Context, w *worker) error {
		groups, err := s.kc.GroupChildren(ctx, s.realm, parent, first, s.pageSize)
		if keycloak.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("children of group %s: %w", parent, err)
		}
		if err := s.emitGroups(ctx, w, groups, parent, members); err != nil {
			return err
		}
		if last && len(groups) == s.pageSize {
			w.push(s.childrenTask(parent, first+s.pageSize, true, members))
		}
		return nil
	}
}

func (s *Scanner) membersTask(groupID string, first int) task {
	return func(ctx context.Context, w *worker) error {
		users, err := s.kc.GroupMembers(ctx, s.realm, groupID, first, s.pageSize)
		if keycloak.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("members of group %s: %w", groupID, err)
		}
		p := part{table: schemas.GroupMember}
		for _, u := range users {
			ch, err := groupMemberChange(groupID, u.ID)
			if err != nil {
				return err
			}
			p.changes = append(p.changes, ch)
		}
		if err := w.emit(ctx, frag{parts: []part{p}}); err != nil {
			return err
		}
		if len(users) == s.pageSize {
			w.push(s.membersTask(groupID, first+s.pageSize))
		}
		return nil
	}
}
