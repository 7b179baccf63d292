package kctwin

import (
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Activity drives a realm like a busy production system: user events (logins, failed
// logins, logouts, profile and password updates) and entity changes (user create, update,
// delete, group joins and leaves, role grants and revokes, group renames) per second. The
// changes go through the same mutation paths as Admin API writes, so admin events are
// recorded; the choices are drawn from Seed.
type Activity struct {
	Realm            string  `json:"realm"`
	EventsPerSecond  float64 `json:"eventsPerSecond"`
	ChangesPerSecond float64 `json:"changesPerSecond"`
	Seed             uint64  `json:"seed,omitempty"`
}

// ParseActivitySpec parses "events=20,changes=2[,realm=acme][,seed=1]".
func ParseActivitySpec(s string) (Activity, error) {
	var a Activity
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("activity spec: %q: want key=value", part)
		}
		switch k {
		case "realm":
			a.Realm = v
		case "events", "changes":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return a, fmt.Errorf("activity spec: %s %q: want a non-negative number per second", k, v)
			}
			if k == "events" {
				a.EventsPerSecond = f
			} else {
				a.ChangesPerSecond = f
			}
		case "seed":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return a, fmt.Errorf("activity spec: seed %q: want an unsigned integer", v)
			}
			a.Seed = n
		default:
			return a, fmt.Errorf("activity spec: unknown key %q (want events, changes, realm, seed)", k)
		}
	}
	return a, nil
}

type activityRun struct {
	a    Activity
	stop chan struct{}
	done chan struct{}
}

// StartActivity starts the activity generator, replacing a running one. An empty Realm
// picks the first realm other than master. The generator's goroutine is stopped by
// StopActivity or Close.
func (t *Twin) StartActivity(a Activity) error {
	if a.EventsPerSecond < 0 || a.ChangesPerSecond < 0 || a.EventsPerSecond > 100000 || a.ChangesPerSecond > 100000 {
		return errorf("activity: rates must be within 0..100000 per second")
	}
	if a.Realm == "" {
		for _, n := range t.Realms() {
			if n != "master" {
				a.Realm = n
				break
			}
		}
	}
	t.mu.RLock()
	_, err := t.realmLocked(a.Realm)
	t.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("activity: %w", err)
	}
	// Checking for Close, replacing the old run and registering the new one happen under
	// actMu, which Close takes to mark the Twin closed: either this start comes first and
	// Close stops what it started, or Close does and the start is refused. Nothing that
	// actMu guards waits on the Twin's other locks, so holding it while a run stops is safe.
	t.actMu.Lock()
	defer t.actMu.Unlock()
	select {
	case <-t.closed:
		return errorf("activity: twin is closed")
	default:
	}
	t.stopActivityLocked()
	run := &activityRun{a: a, stop: make(chan struct{}), done: make(chan struct{})}
	t.activity = run
	t.bg.Add(1)
	go t.runActivity(run)
	return nil
}

// StopActivity stops the activity generator, if running, and waits for it.
func (t *Twin) StopActivity() {
	t.actMu.Lock()
	defer t.actMu.Unlock()
	t.stopActivityLocked()
}

func (t *Twin) stopActivityLocked() {
	if run := t.activity; run != nil {
		t.activity = nil
		close(run.stop)
		<-run.done
	}
}

// Activity returns the running activity, if any.
func (t *Twin) Activity() (Activity, bool) {
	t.actMu.Lock()
	defer t.actMu.Unlock()
	if t.activity == nil {
		return Activity{}, false
	}
	return t.activity.a, true
}

func (t *Twin) runActivity(run *activityRun) {
	defer t.bg.Done()
	defer close(run.done)
	rng := mrand.New(mrand.NewPCG(run.a.Seed, 0x616374))
	const tick = 50 * time.Millisecond
	tk := time.NewTicker(tick)
	defer tk.Stop()
	start := time.Now()
	var evDone, chDone int64
	for {
		select {
		case <-run.stop:
			return
		case <-t.closed:
			return
		case <-tk.C:
		}
		el := time.Since(start).Seconds()
		for evDue := int64(el * run.a.EventsPerSecond); evDone < evDue; evDone++ {
			t.activityEvent(run.a.Realm, rng)
		}
		for chDue := int64(el * run.a.ChangesPerSecond); chDone < chDue; chDone++ {
			t.activityChange(run.a.Realm, rng)
		}
	}
}

// pickUser returns a random non-service-account user of the realm, or nil.
func pickUser(rm *realm, rng *mrand.Rand) *user {
	if len(rm.humans) == 0 {
		return nil
	}
	return rm.humans[rng.IntN(len(rm.humans))]
}

func (t *Twin) activityEvent(realmName string, rng *mrand.Rand) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm := t.realms[realmName]
	if rm == nil {
		return
	}
	u := pickUser(rm, rng)
	if u == nil {
		return
	}
	clients := []string{"account-console"}
	for _, c := range rm.clientLst {
		if !c.bearerOnly && c.saUser == nil && len(clients) < 6 {
			clients = append(clients, c.clientID)
		}
	}
	cl := clients[rng.IntN(len(clients))]
	switch x := rng.IntN(100); {
	case x < 55:
		t.userEvent(rm, "LOGIN", u, cl, true, kv{"redirect_uri", "https://app.example.com/callback"})
	case x < 70:
		t.userEvent(rm, "LOGIN_ERROR", u, cl, false)
	case x < 85:
		t.userEvent(rm, "LOGOUT", u, cl, true)
	case x < 93:
		t.userEvent(rm, "CODE_TO_TOKEN", u, cl, true)
	case x < 97:
		t.userEvent(rm, "UPDATE_PASSWORD", u, "account-console", true)
	default:
		d := []kv{{"previous_last_name", u.lastName}, {"updated_last_name", u.lastName + "-" + strconv.Itoa(rng.IntN(100))}}
		u.lastName = d[1].v
		u.invalidate()
		t.userEvent(rm, "UPDATE_PROFILE", u, "account-console", true, d...)
	}
}

func (t *Twin) activityChange(realmName string, rng *mrand.Rand) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rm := t.realms[realmName]
	if rm == nil {
		return
	}
	a := t.goActor()
	u := pickUser(rm, rng)
	groups := make([]*group, 0, 8)
	for _, g := range rm.top {
		groups = append(groups, g)
		groups = append(groups, g.children...)
	}
	switch x := rng.IntN(100); {
	case x < 15 || u == nil:
		name := "activity-" + strconv.FormatUint(rng.Uint64()%1_000_000_000, 36)
		_, _ = t.createUserL(rm, a, UserInput{Username: name, Email: name + "@example.com", Enabled: true,
			FirstName: "Act", LastName: "Ivity"}, nil)
	case x < 35:
		in := inputOf(u)
		in.Attributes = attrsToMap(u.attrs)
		if in.Attributes == nil {
			in.Attributes = map[string][]string{}
		}
		in.Attributes["lastSeen"] = []string{strconv.FormatInt(t.nowMillis(), 10)}
		_ = t.applyUserL(rm, a, u, in)
	case x < 45:
		in := inputOf(u)
		in.Enabled = !in.Enabled
		_ = t.applyUserL(rm, a, u, in)
	case x < 60 && len(groups) > 0:
		t.joinGroupL(rm, a, u, groups[rng.IntN(len(groups))])
	case x < 70 && len(u.groups) > 0:
		t.leaveGroupL(rm, a, u, u.groups[rng.IntN(len(u.groups))])
	case x < 82 && len(rm.realmList) > 0:
		r := rm.realmList[rng.IntN(len(rm.realmList))]
		if r != rm.defaultRole {
			t.mapRolesL(rm, a, u, []*role{r}, !containsRole(u.roles, r))
		}
	case x < 88 && len(groups) > 0:
		g := groups[rng.IntN(len(groups))]
		base, _, _ := strings.Cut(g.name, "~")
		name := base + "~" + strconv.Itoa(rng.IntN(10))
		_ = t.updateGroupL(rm, a, g, &name, nil, nil, false)
	case x < 94 && strings.HasPrefix(u.username, "activity-"):
		t.deleteUserL(rm, a, u)
	default:
		in := inputOf(u)
		in.RequiredActions = []string{"UPDATE_PASSWORD"}
		if len(u.requiredActions) > 0 {
			in.RequiredActions = nil
		}
		_ = t.applyUserL(rm, a, u, in)
	}
}

func containsRole(s []*role, r *role) bool {
	for _, x := range s {
		if x == r {
			return true
		}
	}
	return false
}
