package console_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func TestAgentLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		e := newEnv(t, open)
		admin := e.setup()
		u := e.user(admin, "alice")
		e.events.take()
		port := 7
		bc := "192.168.1.255"
		ca := must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Kitchen Pi",
			Platform: "linux-arm64", Targets: []console.TargetInput{{Name: "desktop", MAC: "aa-bb-cc-dd-ee-f0", Broadcast: &bc, Port: &port}}})).of(t)
		if ca.DeviceToken == nil || ca.Provisioning.DeviceToken == nil || *ca.DeviceToken != *ca.Provisioning.DeviceToken ||
			ca.RelayURL != "wss://wl.example.org/wss" || ca.Provisioning.OTA.CheckURL != "https://wl.example.org/api/v1/releases/check" ||
			ca.Channel != "stable" || ca.Online || ca.Targets[0].MAC != "AA:BB:CC:DD:EE:F0" || ca.Targets[0].Port != 7 || ca.Replayed {
			t.Fatalf("CreateAgent: %+v", ca)
		}
		if evs := e.events.take(); len(evs) != 1 || evs[0].Type != console.EventAgentCreated || evs[0].Account != u.id {
			t.Fatalf("events after create: %+v", evs)
		}
		_, err := e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "pi", Name: "again"})
		wantCode(t, "duplicate id", err, auth.CodeAgentIDTaken)
		_, err = e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "presence", Name: "x"})
		wantCode(t, "reserved id", err, auth.CodeValidationFailed)
		gen := must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{Name: "generated"})).of(t)
		if len(gen.AgentID) != 10 || gen.AgentID[:2] != "WL" {
			t.Fatalf("generated id %q", gen.AgentID)
		}
		e.events.take()

		// Presence merges from the relay.
		since := e.clock.Now().Add(-time.Minute)
		e.relay.setOnline(u.id, relay.AgentPresence{AgentID: "pi", Node: "node-1", Since: since, RemoteIP: "198.51.100.4",
			EWSPVersions: []string{"2"}, FirmwareVersion: "1.4.0"})
		a := must(e.svc.GetAgent(e.ctx, u.caller, "pi")).of(t)
		if !a.Online || *a.Node != "node-1" || !a.ConnectedSince.Equal(since) || *a.RemoteIP != "198.51.100.4" ||
			*a.FirmwareVersion != "1.4.0" || !slices.Equal(a.EWSPVersions, []string{"2"}) {
			t.Fatalf("GetAgent online: %+v", a)
		}
		online, offline := true, false
		page := must(e.svc.ListAgents(e.ctx, u.caller, console.AgentFilter{Online: &online})).of(t)
		if page.Total != 1 || page.Items[0].AgentID != "pi" {
			t.Fatalf("online filter: %+v", page)
		}
		page = must(e.svc.ListAgents(e.ctx, u.caller, console.AgentFilter{Online: &offline})).of(t)
		if page.Total != 1 || page.Items[0].AgentID != gen.AgentID || page.Items[0].Online {
			t.Fatalf("offline filter: %+v", page)
		}
		pl := must(e.svc.AgentPresenceList(e.ctx, u.caller)).of(t)
		if len(pl.Items) != 2 || pl.Items[1].AgentID != "pi" || !pl.Items[1].Online || pl.Items[0].Online {
			t.Fatalf("presence list: %+v", pl)
		}

		// PATCH: name, targets replaced; null fields unchanged.
		name := "Pi 4"
		empty := []console.TargetInput{}
		up := must(e.svc.UpdateAgent(e.ctx, u.caller, "pi", console.UpdateAgentRequest{Name: &name, Targets: &empty})).of(t)
		if up.Name != "Pi 4" || len(up.Targets) != 0 || *up.Platform != "linux-arm64" || !up.Online {
			t.Fatalf("UpdateAgent: %+v", up)
		}
		evs := e.events.take()
		if len(evs) != 1 || evs[0].Type != console.EventAgentUpdated {
			t.Fatalf("events after update: %v", types(evs))
		}
		var data console.Agent
		ok(t, json.Unmarshal(evs[0].Data, &data))
		if data.Name != "Pi 4" || !data.Online {
			t.Fatalf("agent.updated data: %+v", data)
		}
		bad := "x"
		_, err = e.svc.UpdateAgent(e.ctx, u.caller, "pi", console.UpdateAgentRequest{Channel: &bad})
		wantCode(t, "bad channel", err, auth.CodeValidationFailed)

		// Rotate, delete.
		rot := must(e.svc.RotateAgentToken(e.ctx, u.caller, "pi", console.RotateAgentTokenRequest{GraceS: 30})).of(t)
		if rot.DeviceToken == nil || !rot.OldTokenValidUntil.Equal(rot.TokenRotatedAt.Add(30*time.Second)) || rot.Provisioning.AgentID != "pi" {
			t.Fatalf("RotateAgentToken: %+v", rot)
		}
		_, err = e.svc.RotateAgentToken(e.ctx, u.caller, "pi", console.RotateAgentTokenRequest{GraceS: 601})
		wantCode(t, "grace 601", err, auth.CodeValidationFailed)
		ok(t, e.svc.DeleteAgent(e.ctx, u.caller, "pi"))
		_, err = e.svc.GetAgent(e.ctx, u.caller, "pi")
		wantCode(t, "deleted agent", err, auth.CodeAgentNotFound)
		if got := types(e.events.take()); !slices.Equal(got, []string{console.EventAgentTokenRotated, console.EventAgentDeleted}) {
			t.Fatalf("events: %v", got)
		}
		got := e.auditActions(admin)
		want := []string{"user.created", "user.created", "auth.login", "agent.created", "agent.created", "agent.token_rotated", "agent.deleted"}
		if !slices.Equal(got, want) {
			t.Fatalf("audit:\n got  %v\n want %v", got, want)
		}
	})
}

func TestAgentLimit(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	two := 2
	adminA := e.caller(admin.jwt, console.AuthA)
	must(e.svc.UpdateUser(e.ctx, adminA, u.id, console.UpdateUserRequest{AgentsLimit: &two})).of(t)
	for range 2 {
		must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{Name: "x"})).of(t)
	}
	_, err := e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{Name: "x"})
	wantCode(t, "third agent", err, auth.CodeDeviceLimitReached)
	var ae *console.Error
	if !asError(err, &ae) || ae.Limit != 2 {
		t.Fatalf("detail.limit: %+v", ae)
	}
	me := must(e.svc.Me(e.ctx, u.caller)).of(t)
	if me.AgentsLimit != 2 || me.AgentsCount != 2 {
		t.Fatalf("Me: %+v", me)
	}
}

// TestOwnership checks another account's resources are "not found", never
// forbidden, and that plain users get FORBIDDEN on admin use cases.
func TestOwnership(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	alice, bob := e.user(admin, "alice"), e.user(admin, "bob")
	must(e.svc.CreateAgent(e.ctx, alice.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Pi"})).of(t)
	cl := must(e.svc.CreateClaimCode(e.ctx, alice.caller, console.CreateClaimCodeRequest{})).of(t)
	_, sid := e.session(alice)
	name := "mine"

	_, err := e.svc.GetAgent(e.ctx, bob.caller, "pi")
	wantCode(t, "GetAgent", err, auth.CodeAgentNotFound)
	_, err = e.svc.UpdateAgent(e.ctx, bob.caller, "pi", console.UpdateAgentRequest{Name: &name})
	wantCode(t, "UpdateAgent", err, auth.CodeAgentNotFound)
	wantCode(t, "DeleteAgent", e.svc.DeleteAgent(e.ctx, bob.caller, "pi"), auth.CodeAgentNotFound)
	_, err = e.svc.RotateAgentToken(e.ctx, bob.caller, "pi", console.RotateAgentTokenRequest{})
	wantCode(t, "RotateAgentToken", err, auth.CodeAgentNotFound)
	wantCode(t, "DeleteClaimCode", e.svc.DeleteClaimCode(e.ctx, bob.caller, cl.ClaimID), auth.CodeClaimCodeNotFound)
	wantCode(t, "DeleteSession", e.svc.DeleteSession(e.ctx, bob.caller, sid), auth.CodeSessionNotFound)
	if page := must(e.svc.ListAgents(e.ctx, bob.caller, console.AgentFilter{})).of(t); page.Total != 0 {
		t.Fatalf("bob lists alice's agents: %+v", page)
	}
	if l := must(e.svc.ListClaimCodes(e.ctx, bob.caller)).of(t); len(l.Items) != 0 {
		t.Fatalf("bob lists alice's claim codes: %+v", l)
	}
	// A claim code naming an agent id of another account creates a new
	// agent of the caller's own account at bind.
	cb := must(e.svc.CreateClaimCode(e.ctx, bob.caller, console.CreateClaimCodeRequest{AgentID: "pi"})).of(t)
	prov := must(e.svc.Bind(e.ctx, console.BindRequest{Code: cb.Code.Reveal(), InstallID: "install-bob-000000", Platform: "esp32"})).of(t)
	if prov.AgentID != "pi" {
		t.Fatalf("bind: %+v", prov)
	}
	if a := must(e.svc.GetAgent(e.ctx, alice.caller, "pi")).of(t); a.Name != "Pi" {
		t.Fatalf("alice's agent changed: %+v", a)
	}

	// Roles.
	for name, call := range map[string]func(c console.Caller) error{
		"AdminStats": func(c console.Caller) error { _, err := e.svc.AdminStats(e.ctx, c); return err },
		"ListUsers": func(c console.Caller) error {
			_, err := e.svc.ListUsers(e.ctx, c, console.ListUsersRequest{})
			return err
		},
		"GetUser":    func(c console.Caller) error { _, err := e.svc.GetUser(e.ctx, c, admin.id); return err },
		"DeleteUser": func(c console.Caller) error { return e.svc.DeleteUser(e.ctx, c, admin.id) },
		"ListAll": func(c console.Caller) error {
			_, err := e.svc.ListAllAgents(e.ctx, c, console.AgentFilter{})
			return err
		},
		"ListAudit": func(c console.Caller) error {
			_, err := e.svc.ListAudit(e.ctx, c, console.ListAuditRequest{})
			return err
		},
		"GetSettings": func(c console.Caller) error { _, err := e.svc.GetSettings(e.ctx, c); return err },
		"Status":      func(c console.Caller) error { _, err := e.svc.Status(e.ctx, c); return err },
		"Unlock":      func(c console.Caller) error { _, err := e.svc.UnlockUser(e.ctx, c, admin.id); return err },
		"Subscribe all": func(c console.Caller) error {
			_, err := e.svc.Subscribe(e.ctx, c, console.SubscribeRequest{Scope: "all"})
			return err
		},
	} {
		wantCode(t, name+" as a user", call(bob.caller), auth.CodeForbidden)
	}
}

func asError(err error, target **console.Error) bool {
	e, ok := err.(*console.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestWriteOrderRollback makes the audit row fail inside the transaction:
// nothing of the use case is written, no idempotency record stays, and
// neither a kick nor an event goes out.
func TestWriteOrderRollback(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		e := newEnv(t, open)
		admin := e.setup()
		u := e.user(admin, "alice")
		must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Pi"})).of(t)
		auditBefore := len(e.auditActions(admin))
		e.relay.take()
		e.events.take()
		idem := console.Idempotency{Key: "create-1", Fingerprint: console.RequestFingerprint("POST", "/api/v1/agents", []byte(`{"name":"B"}`))}

		e.store.failAudit.Store(true)
		for name, call := range map[string]func() error{
			"DeleteAgent": func() error { return e.svc.DeleteAgent(e.ctx, u.caller, "pi") },
			"RotateAgentToken": func() error {
				_, err := e.svc.RotateAgentToken(e.ctx, u.caller, "pi", console.RotateAgentTokenRequest{})
				return err
			},
			"CreateAgent": func() error {
				_, err := e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "b", Name: "B", Idempotency: idem})
				return err
			},
			"RotateAPIToken": func() error { _, err := e.svc.RotateAPIToken(e.ctx, u.caller); return err },
			"DeleteUser":     func() error { return e.svc.DeleteUser(e.ctx, admin.caller, u.id) },
			"ChangePassword": func() error {
				_, err := e.svc.ChangePassword(e.ctx, u.caller, console.ChangePasswordRequest{CurrentPassword: u.password, NewPassword: "another long secret"})
				return err
			},
		} {
			err := call()
			if err == nil || console.CodeOf(err) != console.CodeInternalError {
				t.Fatalf("%s with a failing audit row: got %v, want INTERNAL_ERROR", name, err)
			}
		}
		e.store.failAudit.Store(false)
		if k := e.relay.take(); len(k) != 0 {
			t.Fatalf("kicks after rolled-back use cases: %+v", k)
		}
		if ev := e.events.take(); len(ev) != 0 {
			t.Fatalf("events after rolled-back use cases: %v", types(ev))
		}
		if n := len(e.auditActions(admin)); n != auditBefore {
			t.Fatalf("audit rows: %d, want %d", n, auditBefore)
		}
		// Everything is as before: the agent, its token, the user, the wl_.
		a := must(e.svc.GetAgent(e.ctx, u.caller, "pi")).of(t)
		if a.TokenRotatedAt == nil {
			t.Fatal("agent lost its token state")
		}
		e.caller(u.wl, console.AuthC)
		must(e.svc.Login(e.ctx, console.LoginRequest{Username: u.username, Password: u.password})).of(t)
		_, err := e.svc.GetAgent(e.ctx, u.caller, "b")
		wantCode(t, "agent of a rolled-back create", err, auth.CodeAgentNotFound)
		// No idempotency record stayed: the same key runs afresh.
		ca := must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "b", Name: "B", Idempotency: idem})).of(t)
		if ca.Replayed || ca.DeviceToken == nil {
			t.Fatalf("create after a rolled-back one: %+v", ca)
		}
	})
}

func TestIdempotency(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		e := newEnv(t, open)
		admin := e.setup()
		u := e.user(admin, "alice")
		body := []byte(`{"name":"Pi"}`)
		idem := console.Idempotency{Key: "k-1", Fingerprint: console.RequestFingerprint("POST", "/api/v1/agents", body)}
		req := console.CreateAgentRequest{AgentID: "pi", Name: "Pi", Idempotency: idem}
		first := must(e.svc.CreateAgent(e.ctx, u.caller, req)).of(t)
		e.events.take()
		replay := must(e.svc.CreateAgent(e.ctx, u.caller, req)).of(t)
		if !replay.Replayed || replay.DeviceToken != nil || replay.Provisioning.DeviceToken != nil ||
			replay.AgentID != first.AgentID || replay.TokenHint != first.TokenHint || replay.RelayURL != first.RelayURL {
			t.Fatalf("replay: %+v", replay)
		}
		if ev := e.events.take(); len(ev) != 0 {
			t.Fatalf("a replay published %v", types(ev))
		}
		if page := must(e.svc.ListAgents(e.ctx, u.caller, console.AgentFilter{})).of(t); page.Total != 1 {
			t.Fatalf("agents after a replay: %d", page.Total)
		}
		// The same key for another request.
		other := req
		other.Idempotency.Fingerprint = console.RequestFingerprint("POST", "/api/v1/agents", []byte(`{"name":"Other"}`))
		_, err := e.svc.CreateAgent(e.ctx, u.caller, other)
		wantCode(t, "same key, other body", err, console.CodeIdempotencyKeyReused)
		// Keys are per principal.
		bob := e.user(admin, "bob")
		must(e.svc.CreateAgent(e.ctx, bob.caller, req)).of(t)
		// Claim codes: code and command are one-time secrets.
		cidem := console.Idempotency{Key: "c-1", Fingerprint: console.RequestFingerprint("POST", "/api/v1/claim-codes", nil)}
		c1 := must(e.svc.CreateClaimCode(e.ctx, u.caller, console.CreateClaimCodeRequest{Idempotency: cidem})).of(t)
		c2 := must(e.svc.CreateClaimCode(e.ctx, u.caller, console.CreateClaimCodeRequest{Idempotency: cidem})).of(t)
		if c1.Code == nil || c1.Command == nil || !c2.Replayed || c2.Code != nil || c2.Command != nil || c2.ClaimID != c1.ClaimID ||
			c2.BindURL != "https://wl.example.org/api/client/bind" {
			t.Fatalf("claim replay: %+v / %+v", c1, c2)
		}
		// Admin user creation.
		uidem := console.Idempotency{Key: "u-1", Fingerprint: [32]byte{1}}
		u1 := must(e.svc.CreateUser(e.ctx, admin.caller, console.CreateUserRequest{Username: "carol", Password: "sufficiently long password 42", Idempotency: uidem})).of(t)
		u2 := must(e.svc.CreateUser(e.ctx, admin.caller, console.CreateUserRequest{Username: "carol", Password: "sufficiently long password 42", Idempotency: uidem})).of(t)
		if u1.Replayed || !u2.Replayed || u2.ID != u1.ID {
			t.Fatalf("user replay: %+v / %+v", u1, u2)
		}
		_, err = e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{Name: "x", Idempotency: console.Idempotency{Key: "bad key!"}})
		wantCode(t, "malformed key", err, auth.CodeValidationFailed)
		// Expired after 24 h: the key runs afresh.
		e.clk.Advance(24*time.Hour + time.Second)
		u.caller = e.caller(must(e.svc.Login(e.ctx, console.LoginRequest{Username: u.username, Password: u.password})).of(t).AccessToken.Reveal(), console.AuthC)
		_, err = e.svc.CreateAgent(e.ctx, u.caller, req)
		wantCode(t, "after expiry the request runs again", err, auth.CodeAgentIDTaken)
	})
}

// blockingKeys blocks PublicKeys (called inside CreateAgent's transaction)
// until released, to hold a request in flight.
type blockingKeys struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingKeys) PublicKeys(ctx context.Context) ([]console.OTAPublicKey, error) {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return []console.OTAPublicKey{{KeyID: "0123456789abcdef", PublicKey: "00"}}, nil
}

func TestIdempotencyInFlight(t *testing.T) {
	keys := &blockingKeys{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, sqliteOnly(t), func(c *console.Config) { c.ReleaseKeys = keys })
	admin := e.setup()
	u := e.user(admin, "alice")
	req := console.CreateAgentRequest{AgentID: "pi", Name: "Pi", Idempotency: console.Idempotency{Key: "k", Fingerprint: [32]byte{7}}}
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.CreateAgent(e.ctx, u.caller, req)
		done <- err
	}()
	<-keys.entered
	_, err := e.svc.CreateAgent(e.ctx, u.caller, req)
	wantCode(t, "while the first runs", err, console.CodeIdempotencyKeyReused)
	close(keys.release)
	ok(t, <-done)
	r := must(e.svc.CreateAgent(e.ctx, u.caller, req)).of(t)
	if !r.Replayed || len(r.Provisioning.OTA.PublicKeys) != 1 {
		t.Fatalf("after the first finished: %+v", r)
	}
}
