package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/keycdc/keycdc/kctwin"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// cmdTwin serves a Keycloak Admin API twin until ctx is cancelled, then shuts the HTTP
// server down gracefully.
func cmdTwin(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("twin", e)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	var realmFiles, generates stringList
	fs.Var(&realmFiles, "realm-file", "Keycloak realm export to load (realm object, array, or *-users-N.json); repeatable")
	fs.Var(&generates, "generate", "generate a realm: name=acme,users=N,groups=N,roles=N,clients=N,events=N,admin-events=N,seed=S; repeatable")
	version := fs.String("keycloak-version", kctwin.Version26, "emulated Keycloak version: 26.2 or 25.0")
	latency := fs.Duration("latency", 0, "delay added to every Keycloak request")
	faultRate := fs.Float64("fault-rate", 0, "fraction (0..1) of Keycloak requests answered with 429/500/502/503/504")
	faultSeed := fs.Uint64("fault-seed", 1, "seed of the fault draw")
	lifespan := fs.Duration("token-lifespan", 300*time.Second, "access-token lifespan")
	maxConc := fs.Int("max-concurrent", 0, "cap on Keycloak requests served at once (0 = none); above it: 503 with Retry-After")
	clientID := fs.String("client-id", "keycdc", "clientId of the confidential poller client every realm gets")
	clientSecret := fs.String("client-secret", "", "secret of the poller client (default: generated)")
	adminUser := fs.String("admin-user", "admin", "master realm admin user (password grant with admin-cli)")
	adminPassword := fs.String("admin-password", "admin", "master realm admin password")
	activity := fs.String("activity", "", "simulated activity: events=N,changes=N[,realm=R][,seed=S] per second")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var specs []kctwin.GenerateSpec
	for _, g := range generates {
		s, err := kctwin.ParseGenerateSpec(g)
		if err != nil {
			return usagef("--generate: %v", err)
		}
		specs = append(specs, s)
	}
	if len(specs) == 0 && len(realmFiles) == 0 {
		specs = append(specs, kctwin.DefaultGenerateSpec())
	}
	var act *kctwin.Activity
	if *activity != "" {
		a, err := kctwin.ParseActivitySpec(*activity)
		if err != nil {
			return usagef("--activity: %v", err)
		}
		act = &a
	}
	if set["client-secret"] && *clientSecret == "" {
		return usagef("--client-secret: must not be empty")
	}
	opts := []kctwin.Option{kctwin.Logger(slog.New(slog.NewTextHandler(e.stderr, nil)))}
	for _, o := range []struct {
		flag string
		opt  kctwin.Option
	}{
		{"keycloak-version", kctwin.KeycloakVersion(*version)},
		{"latency", kctwin.Latency(*latency)},
		{"fault-rate", kctwin.FaultRate(*faultRate)},
		{"fault-seed", kctwin.FaultSeed(*faultSeed)},
		{"token-lifespan", kctwin.TokenLifespan(*lifespan)},
		{"max-concurrent", kctwin.MaxConcurrent(*maxConc)},
		{"client-id", kctwin.PollerClientID(*clientID)},
		{"admin-user", kctwin.Admin(*adminUser, *adminPassword)},
	} {
		// Each option validates its own flag, so the error can name it.
		probe, err := kctwin.New(o.opt)
		if err != nil {
			return usagef("--%s: %v", o.flag, strings.TrimPrefix(err.Error(), "kctwin: "))
		}
		probe.Close()
		opts = append(opts, o.opt)
	}
	tw, err := kctwin.New(opts...)
	if err != nil {
		return err
	}
	defer tw.Close()
	if len(realmFiles) > 0 {
		if err := tw.LoadFiles(realmFiles...); err != nil {
			return err
		}
	}
	for _, s := range specs {
		if err := tw.Generate(s); err != nil {
			return fmt.Errorf("generate realm %q: %w", s.Name, err)
		}
	}
	if *clientSecret != "" {
		for _, r := range tw.Realms() {
			if err := tw.SetPollerSecret(r, *clientSecret); err != nil {
				return err
			}
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(e.stdout, "keycloak twin (Keycloak %s API) listening on %s\n", tw.Version(), base)
	fmt.Fprintf(e.stdout, "  admin: realm master, client admin-cli, user %s (password grant)\n", *adminUser)
	for _, r := range tw.Realms() {
		c, err := tw.PollerCredentials(r)
		if err != nil {
			continue
		}
		fmt.Fprintf(e.stdout, "  realm %s: url %s realm %s client-id %s client-secret %s\n", r, base, c.Realm, c.ClientID, c.ClientSecret)
	}
	fmt.Fprintf(e.stdout, "  control: %s/_twin/stats, /_twin/faults, /_twin/activity, /_twin/realms/{realm}/dump\n", base)
	if act != nil {
		if err := tw.StartActivity(*act); err != nil {
			ln.Close()
			return usagef("--activity: %v", err)
		}
	}

	srv := &http.Server{Handler: tw, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", base, err)
	case <-ctx.Done():
	}
	// Stop background work first so hung responses end, then drain open requests.
	tw.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shut down %s: %w", base, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", base, err)
	}
	return nil
}
