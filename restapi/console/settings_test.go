package console_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func TestSettings(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		e := newEnv(t, open)
		admin := e.setup()
		v := must(e.svc.GetSettings(e.ctx, admin.caller)).of(t)
		if v.Settings != console.DefaultSettings() || *v.PublicURL != "https://wl.example.org" || v.RelayURL != "wss://wl.example.org/wss" ||
			!v.DevAPI || v.MaxArtifactBytes != 64<<20 {
			t.Fatalf("defaults: %+v", v)
		}
		b, _ := json.Marshal(v)
		var flat map[string]any
		ok(t, json.Unmarshal(b, &flat))
		for _, k := range []string{"registration", "agents_per_account", "relay", "ota", "sessions", "mcp", "public_url", "relay_url", "dev_api", "max_artifact_bytes"} {
			if _, ok := flat[k]; !ok {
				t.Fatalf("Settings JSON lacks %q: %s", k, b)
			}
		}

		// Bounds: every violation named, nothing changed.
		i := func(n int) *int { return &n }
		reg := console.Registration("maybe")
		_, err := e.svc.UpdateSettings(e.ctx, admin.caller, console.SettingsPatch{
			Registration: &reg, AgentsPerAccount: i(-1),
			Relay:    &console.RelaySettingsPatch{OfflineQueueTTLS: i(301), MaxClientsPerAccount: i(0)},
			OTA:      &console.OTASettingsPatch{CheckIntervalS: i(299)},
			Sessions: &console.SessionSettingsPatch{SessionTTLS: i(3599), MaxPerUser: i(1001), MaxRelayPerUser: i(0)},
		})
		var ae *console.Error
		if !asError(err, &ae) || ae.Code != auth.CodeValidationFailed || len(ae.Fields) != 8 {
			t.Fatalf("out-of-bounds patch: %+v", err)
		}
		for _, tc := range []struct {
			name string
			p    console.SettingsPatch
		}{
			{"agents 100001", console.SettingsPatch{AgentsPerAccount: i(100001)}},
			{"session ttl 30d+1", console.SettingsPatch{Sessions: &console.SessionSettingsPatch{SessionTTLS: i(2592001)}}},
			{"check 86401", console.SettingsPatch{OTA: &console.OTASettingsPatch{CheckIntervalS: i(86401)}}},
			{"clients 10001", console.SettingsPatch{Relay: &console.RelaySettingsPatch{MaxClientsPerAccount: i(10001)}}},
		} {
			_, err := e.svc.UpdateSettings(e.ctx, admin.caller, tc.p)
			wantCode(t, tc.name, err, auth.CodeValidationFailed)
		}
		if got := must(e.svc.GetSettings(e.ctx, admin.caller)).of(t).Settings; got != console.DefaultSettings() {
			t.Fatalf("settings changed by refused patches: %+v", got)
		}
		e.events.take()

		// A valid patch: stored, audited, published, applied to auth.
		regOpen := console.RegistrationOpen
		t0, f := true, false
		v = must(e.svc.UpdateSettings(e.ctx, admin.caller, console.SettingsPatch{Registration: &regOpen, AgentsPerAccount: i(0),
			Sessions: &console.SessionSettingsPatch{SessionTTLS: i(7200)}, MCP: &console.MCPSettingsPatch{Enabled: &f},
			Relay: &console.RelaySettingsPatch{LegacyAccountTokenDevices: &t0, OfflineQueueTTLS: i(0)}})).of(t)
		want := console.DefaultSettings()
		want.Registration, want.AgentsPerAccount, want.Sessions.SessionTTLS, want.MCP.Enabled = regOpen, 0, 7200, false
		want.Relay.LegacyAccountTokenDevices, want.Relay.OfflineQueueTTLS = true, 0
		if v.Settings != want {
			t.Fatalf("after the patch: %+v", v.Settings)
		}
		evs := e.events.take()
		if len(evs) != 1 || evs[0].Type != console.EventSettingsUpdated {
			t.Fatalf("events: %v", types(evs))
		}
		if a := e.auditActions(admin); a[len(a)-1] != "settings.updated" {
			t.Fatalf("audit: %v", a)
		}
		reg2 := must(e.svc.Register(e.ctx, console.SignupRequest{Username: "newbie", Password: "sufficiently long password 42"})).of(t)
		if reg2.User.Role != auth.RoleUser || reg2.User.APIToken == nil || reg2.User.AgentsLimit != 0 {
			t.Fatalf("Register: %+v", reg2.User)
		}
		c := e.caller(reg2.AccessToken.Reveal(), console.AuthC)
		st := must(e.svc.CreateSession(e.ctx, c, console.CreateSessionRequest{})).of(t)
		if st.ExpiresIn != 7200 {
			t.Fatalf("session lifetime after the patch: %d s, want 7200", st.ExpiresIn)
		}
		if cfg := must(e.svc.GetAuthConfig(e.ctx)).of(t); cfg.Registration != console.RegistrationOpen || cfg.SessionTTLS != 7200 {
			t.Fatalf("auth config: %+v", cfg)
		}

		// Another Service on the same database (another node) sees the
		// change, and the registration seed applies only to a new database.
		e.build(func(c *console.Config) { c.InitialRegistration = console.RegistrationClosed })
		if got := e.svc.Settings(e.ctx); got != want {
			t.Fatalf("settings seen by a new Service: %+v", got)
		}
		e2 := newEnv(t, sqliteOnly(t), func(c *console.Config) { c.InitialRegistration = console.RegistrationOpen })
		if got := e2.svc.Settings(e2.ctx); got.Registration != console.RegistrationOpen {
			t.Fatalf("seeded registration: %s", got.Registration)
		}

		// UI settings.
		ui := must(e.svc.GetUISettings(e.ctx, admin.caller)).of(t)
		if *ui != console.DefaultUISettings() {
			t.Fatalf("default ui settings: %+v", ui)
		}
		must(e.svc.PutUISettings(e.ctx, admin.caller, console.UISettings{Locale: "pt-BR", Theme: "dark"})).of(t)
		if ui := must(e.svc.GetUISettings(e.ctx, admin.caller)).of(t); ui.Locale != "pt-BR" || ui.Theme != "dark" {
			t.Fatalf("ui settings: %+v", ui)
		}
		for _, bad := range []console.UISettings{{Locale: "x", Theme: "dark"}, {Locale: "en", Theme: "blue"},
			{Locale: "en-", Theme: "light"}, {Locale: "abcdefghi", Theme: "light"}, {Locale: "en-US-verylongtag1", Theme: "light"}} {
			_, err := e.svc.PutUISettings(e.ctx, admin.caller, bad)
			wantCode(t, "ui "+bad.Locale+"/"+bad.Theme, err, auth.CodeValidationFailed)
		}
	})
}

// TestSettingsRefresh checks a change made through another Service (node)
// reaches this one within SettingsRefresh, and reaches its auth.
func TestSettingsRefresh(t *testing.T) {
	e := newEnv(t, sqliteOnly(t), func(c *console.Config) { c.SettingsRefresh = 50 * time.Millisecond })
	admin := e.setup()
	other := must(console.New(e.auth, e.db.Console(), console.Config{Clock: e.clock})).of(t)
	open := console.RegistrationOpen
	must(other.UpdateSettings(e.ctx, admin.caller, console.SettingsPatch{Registration: &open})).of(t)
	deadline := time.Now().Add(5 * time.Second)
	for e.svc.Settings(e.ctx).Registration != open {
		if time.Now().After(deadline) {
			t.Fatal("the change never reached the first Service")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ok(t, e.svc.RefreshSettings(e.ctx))
}

func TestUISettingsValidLocales(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	for _, l := range []string{"en", "de-CH", "zh-Hant-TW", "sr-Latn", "es-419"} {
		must(e.svc.PutUISettings(e.ctx, admin.caller, console.UISettings{Locale: l, Theme: "system"})).of(t)
	}
	if !slices.Contains([]string{"system"}, must(e.svc.GetUISettings(e.ctx, admin.caller)).of(t).Theme) {
		t.Fatal("theme")
	}
}
