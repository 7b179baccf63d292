package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keycdc/keycdc/kctwin"
)

// No secret reaches a topic, a log line or the metrics endpoint: not keycdc's own client
// secret, not the secrets Keycloak returns in plaintext on confidential clients, not the
// secrets an older Keycloak leaves in admin-event representations, not a token.
func TestNoSecretInTopicsLogsOrMetrics(t *testing.T) {
	s := newStack(t, "26.2", spec("acme", 40, 51))
	s.syncExtra = "  admin_event_representation: true\n"
	s.representations = true
	const clientSecret, userPassword = "cl13nt-s3cr3t-9f2", "Pw-un1que-777"
	tw := s.twin
	if _, err := tw.CreateClient("acme", kctwin.ClientInput{ClientID: "billing", Enabled: true, ServiceAccountsEnabled: true,
		Protocol: "openid-connect", Secret: clientSecret}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.CreateUser("acme", kctwin.UserInput{Username: "carol", Enabled: true, Password: userPassword}); err != nil {
		t.Fatal(err)
	}
	rep := `{"clientId":"legacy","secret":"` + clientSecret + `","attributes":{"client.secret.rotated":"` + clientSecret +
		`"},"credentials":[{"type":"password","value":"` + userPassword + `"}]}`
	if _, err := tw.InjectAdminEvent("acme", kctwin.AdminEvent{OperationType: "CREATE", ResourceType: "CLIENT",
		ResourcePath: "clients/x", Representation: &rep}); err != nil {
		t.Fatal(err)
	}
	cfg := s.configWith(nil, `listen: ""`, "listen: 127.0.0.1:0")
	var logs syncBuffer
	e := env{stdout: &logs, stderr: &logs, lookupEnv: noEnv}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmdRun(ctx, e, []string{"--config", cfg}) }()
	c := s.eventually("acme", 30*time.Second)
	metrics := scrapeMetrics(t, &logs)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	secrets := []string{clientSecret, userPassword, "s3cret-acme", "Bearer ", "access_token"}
	var redacted int
	for _, r := range c.raw {
		for _, sec := range secrets {
			if bytes.Contains(r.Key, []byte(sec)) || bytes.Contains(r.Value, []byte(sec)) {
				t.Errorf("%s at offset %d holds %q", r.Topic, r.Offset, sec)
			}
		}
		if bytes.Contains(r.Value, []byte("**********")) {
			redacted++
		}
	}
	if redacted == 0 {
		t.Error("no admin event representation was written redacted: the test did not exercise redaction")
	}
	for where, text := range map[string]string{"logs": logs.String(), "metrics": metrics} {
		for _, sec := range secrets[:3] {
			if strings.Contains(text, sec) {
				t.Errorf("%s hold %q", where, sec)
			}
		}
	}
	if !strings.Contains(metrics, "keycdc_records_total") {
		t.Errorf("metrics endpoint lacks keycdc_records_total:\n%.2000s", metrics)
	}
}

// scrapeMetrics finds the metrics address in the log and reads /metrics.
func scrapeMetrics(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	i := strings.Index(logs.String(), "metrics=")
	if i < 0 {
		t.Fatalf("no metrics address logged:\n%s", logs.String())
	}
	addr := strings.Fields(logs.String()[i+len("metrics="):])[0]
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
