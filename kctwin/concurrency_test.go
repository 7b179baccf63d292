package kctwin_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/keycdc/keycdc/kctwin"
)

// TestReadersAndWritersTogether pages through users, groups and events from several
// goroutines while another mutates the realm, to let the race detector see the cached
// representations, pooled buffers and indexes under contention. Every page must stay
// well-formed and ordered.
func TestReadersAndWritersTogether(t *testing.T) {
	e := newEnv(t, kctwin.Version26, generate(t, "name=acme,users=300,groups=10,roles=4,clients=2,events=200,admin-events=20,seed=6"))
	if err := e.tw.SetEditUsernameAllowed("acme", true); err != nil {
		t.Fatal(err)
	}
	d, _ := e.tw.DumpRealm("acme")
	var ids []string
	for _, u := range d.Users {
		if u.ServiceAccountClientID == "" {
			ids = append(ids, u.ID)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				path := []string{"/admin/realms/acme/users?first=" + strconv.Itoa(i*10) + "&max=50",
					"/admin/realms/acme/groups/" + d.Groups[i%len(d.Groups)].ID + "/members",
					"/admin/realms/acme/events?max=50", "/admin/realms/acme/admin-events?max=20"}[(i+r)%4]
				st, b, _ := e.do("GET", path, e.poller, nil)
				if st != 200 {
					errs <- fmt.Errorf("%s: %d", path, st)
					return
				}
				var page []map[string]any
				if err := json.Unmarshal(b, &page); err != nil {
					errs <- fmt.Errorf("%s: %v", path, err)
					return
				}
				for k := 1; k < len(page); k++ {
					if u, ok := page[k]["username"].(string); ok && u < page[k-1]["username"].(string) {
						errs <- fmt.Errorf("%s: out of order at %d", path, k)
						return
					}
				}
			}
		}(r)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 60; i++ {
			id := ids[i%len(ids)]
			var err error
			switch i % 4 {
			case 0:
				err = e.tw.UpdateUser("acme", id, func(u *kctwin.UserInput) { u.Username = "zz-renamed-" + strconv.Itoa(i) })
			case 1:
				err = e.tw.SetUserAttributes("acme", id, map[string][]string{"n": {strconv.Itoa(i)}})
			case 2:
				err = e.tw.JoinGroup("acme", id, d.Groups[i%len(d.Groups)].ID)
			case 3:
				err = e.tw.SimulateLogin("acme", d.Users[i%len(d.Users)].Username, "")
			}
			if err != nil && i%4 != 3 {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
