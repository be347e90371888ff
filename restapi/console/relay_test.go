package console_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/relaytest"
	"github.com/wakelink-go/wakelink/restapi/console"
)

// TestRelayAuthz covers every relay auth code the console decides (API.md
// §4.2) and the principal of each credential kind.
func TestRelayAuthz(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		e := newEnv(t, open)
		admin := e.setup()
		u := e.user(admin, "alice")
		other := e.user(admin, "bob")
		ag := must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Pi"})).of(t)
		wld := ag.DeviceToken.Reveal()
		must(e.svc.CreateAgent(e.ctx, other.caller, console.CreateAgentRequest{AgentID: "bobs", Name: "B"})).of(t)
		wls, sid := e.session(u)
		expiring, _ := e.session(u)
		revoked, rsid := e.session(u)
		ok(t, e.svc.DeleteSession(e.ctx, u.caller, rsid))
		dead := e.user(admin, "carol")
		dis := true
		must(e.svc.UpdateUser(e.ctx, admin.caller, dead.id, console.UpdateUserRequest{Disabled: &dis})).of(t)
		_ = expiring

		req := func(tok, field, ct, agent string) console.RelayAuthzRequest {
			return console.RelayAuthzRequest{Token: relay.Secret(tok), TokenField: field, ClientType: ct, AgentID: agent, NodeID: "n1"}
		}
		deny := []struct {
			name string
			req  console.RelayAuthzRequest
			code string
		}{
			{"garbage", req("hello", "api_token", "client", ""), relay.CodeInvalidToken},
			{"unknown wl_", req("wl_"+zeros(64), "api_token", "client", ""), relay.CodeInvalidToken},
			{"revoked wls_", req(revoked, "session_token", "client", ""), relay.CodeTokenRevoked},
			{"wld_ as client", req(wld, "api_token", "client", ""), relay.CodeTokenScopeMismatch},
			{"wl_ in session_token", req(u.wl, "session_token", "client", ""), relay.CodeTokenScopeMismatch},
			{"wls_ in api_token", req(wls, "api_token", "client", ""), relay.CodeTokenScopeMismatch},
			{"JWT", req(u.jwt, "api_token", "client", ""), relay.CodeTokenScopeMismatch},
			{"wl_ as device (legacy off)", req(u.wl, "api_token", "device", "pi"), relay.CodeTokenScopeMismatch},
			{"wls_ as device (legacy off)", req(wls, "session_token", "device", "pi"), relay.CodeTokenScopeMismatch},
			{"wld_ of another agent", req(wld, "api_token", "firmware", "other"), relay.CodeAgentMismatch},
			{"disabled account", req(dead.wl, "api_token", "client", ""), relay.CodeAccountDisabled},
			{"empty token", req("", "api_token", "client", ""), relay.CodeInvalidMessage},
			{"bad token_field", req(u.wl, "token", "client", ""), relay.CodeInvalidMessage},
			{"bad client_type", req(u.wl, "api_token", "browser", ""), relay.CodeInvalidMessage},
		}
		for _, tc := range deny {
			res := must(e.svc.RelayAuthz(e.ctx, tc.req)).of(t)
			if res.Allowed || res.Error != tc.code || res.Principal != nil {
				t.Fatalf("%s: %+v, want deny %s", tc.name, res, tc.code)
			}
			_, err := e.svc.Authenticate(e.ctx, relay.Credentials{Token: tc.req.Token, TokenField: tc.req.TokenField,
				ClientType: tc.req.ClientType, AgentID: tc.req.AgentID})
			var ae *relay.AuthError
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Fatalf("%s: Authenticate: %v, want AuthError %s", tc.name, err, tc.code)
			}
		}

		// Allowed: a device.
		res := must(e.svc.RelayAuthz(e.ctx, req(wld, "api_token", "device", "pi"))).of(t)
		devID := e.caller(wld, console.AuthD).CredentialID
		if !res.Allowed || res.Principal.Kind != relay.KindAgent || *res.Principal.AgentID != "pi" || res.Principal.CredentialKind != "wld" ||
			!slices.Equal(res.Principal.CredentialIDs, []string{devID}) || res.Principal.ExpiresAt != nil || res.SessionToken != nil ||
			res.ExpiresIn != nil || *res.MaxRequests != 0 || res.Limits.RatePerS != 50 || *res.RevalidateAfterS != 60 {
			t.Fatalf("device: %+v %+v", res, res.Principal)
		}
		// A client with its wls_.
		res = must(e.svc.RelayAuthz(e.ctx, req(wls, "session_token", "client", ""))).of(t)
		if !res.Allowed || res.Principal.Kind != relay.KindClient || !slices.Equal(res.Principal.CredentialIDs, []string{sid}) ||
			res.Principal.CredentialKind != "wls" || res.SessionToken != nil || *res.ExpiresIn != 86400 ||
			*res.MaxRequests != 10000 || res.Limits.MaxClientsPerAccount != 20 || res.Limits.OfflineQueueTTLS != 30 {
			t.Fatalf("wls_ client: %+v", res)
		}
		// A client with its wl_: a relay session is minted (and, on the
		// internal endpoint, answered).
		if r := must(e.svc.RelayAuthz(e.ctx, req(u.wl, "api_token", "client", ""))).of(t); r.SessionToken == nil ||
			r.Principal.CredentialKind != "wl" || len(r.Principal.CredentialIDs) != 2 {
			t.Fatalf("internal authz of a wl_ client: %+v", r)
		}
		wlID := e.caller(u.wl, console.AuthC).CredentialID
		p := must(e.svc.Authenticate(e.ctx, relay.Credentials{Token: relay.Secret(u.wl), TokenField: "api_token", ClientType: "client"})).of(t)
		if p.Kind != relay.KindClient || p.Account != u.id || len(p.CredentialIDs) != 2 || p.CredentialIDs[0] != wlID ||
			p.CredentialKind != "wl" || p.SessionToken == "" || p.ExpiresAt.IsZero() || p.Limits.MaxClientsPerAccount != 20 {
			t.Fatalf("wl_ client: %+v", p)
		}
		minted := e.caller(string(p.SessionToken), console.AuthC)
		if minted.CreatedVia != auth.ViaRelay || minted.CredentialID != p.CredentialIDs[1] {
			t.Fatalf("minted session: %+v", minted.Principal)
		}

		// Expired session (clock), then the legacy setting.
		e.clk.Advance(25 * time.Hour)
		res = must(e.svc.RelayAuthz(e.ctx, req(expiring, "session_token", "client", ""))).of(t)
		if res.Allowed || res.Error != relay.CodeTokenExpired {
			t.Fatalf("expired session: %+v", res)
		}
		adminC := e.adminJWT(admin)
		yes, zero := true, 0
		must(e.svc.UpdateSettings(e.ctx, adminC, console.SettingsPatch{Relay: &console.RelaySettingsPatch{
			LegacyAccountTokenDevices: &yes, OfflineQueueTTLS: &zero}})).of(t)
		res = must(e.svc.RelayAuthz(e.ctx, req(u.wl, "api_token", "device", "pi"))).of(t)
		if !res.Allowed || *res.Principal.AgentID != "pi" || res.Principal.CredentialKind != "wl" ||
			!slices.Equal(res.Principal.CredentialIDs, []string{wlID}) || res.Limits.OfflineQueueTTLS != 0 {
			t.Fatalf("legacy wl_ device: %+v", res)
		}
		for _, id := range []string{"bobs", "nope", "bad id!"} {
			res = must(e.svc.RelayAuthz(e.ctx, req(u.wl, "api_token", "device", id))).of(t)
			if res.Allowed || res.Error != relay.CodeAgentMismatch {
				t.Fatalf("legacy device naming %q: %+v", id, res)
			}
		}
		p = must(e.svc.Authenticate(e.ctx, relay.Credentials{Token: relay.Secret(wld), TokenField: "api_token", ClientType: "device", AgentID: "pi"})).of(t)
		if p.Limits.OfflineQueueTTL >= 0 {
			t.Fatalf("offline queue with TTL 0: %v, want disabled (negative)", p.Limits.OfflineQueueTTL)
		}

		// Revalidate: revoked, unknown and live ids.
		got := must(e.svc.RelayRevalidate(e.ctx, console.RelayRevalidateRequest{CredentialIDs: []string{devID, rsid, "ses_" + zeros(26), p.CredentialIDs[0]}})).of(t)
		want := []string{rsid, "ses_" + zeros(26)}
		if !slices.Equal(got.Revoked, want) {
			t.Fatalf("revalidate: %v, want %v", got.Revoked, want)
		}
		_, err := e.svc.RelayRevalidate(e.ctx, console.RelayRevalidateRequest{CredentialIDs: make([]string, 1001)})
		wantCode(t, "revalidate 1001 ids", err, auth.CodeValidationFailed)
	})
}

// TestRelaySessionCap checks relay-minted sessions beyond
// sessions.max_relay_per_user revoke the oldest, kicking its connection.
func TestRelaySessionCap(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	one := 1
	must(e.svc.UpdateSettings(e.ctx, admin.caller, console.SettingsPatch{Sessions: &console.SessionSettingsPatch{MaxRelayPerUser: &one}})).of(t)
	cred := relay.Credentials{Token: relay.Secret(admin.wl), TokenField: "api_token", ClientType: "client"}
	p1 := must(e.svc.Authenticate(e.ctx, cred)).of(t)
	e.relay.take()
	must(e.svc.Authenticate(e.ctx, cred)).of(t)
	k := e.relay.take()
	if len(k) != 1 || k[0].Code != 4001 || !slices.Equal(k[0].Target.CredentialIDs, []string{p1.CredentialIDs[1]}) {
		t.Fatalf("eviction kick: %+v", k)
	}
}

func TestDirectory(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	for _, id := range []string{"c", "a", "b"} {
		must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: id, Name: id})).of(t)
	}
	infos := must(e.svc.Agents(e.ctx, u.id, 2)).of(t)
	if len(infos) != 2 || infos[0].AgentID != "a" || infos[1].AgentID != "b" {
		t.Fatalf("Agents: %+v", infos)
	}
	if infos := must(e.svc.Agents(e.ctx, "usr_"+zeros(26), 10)).of(t); len(infos) != 0 {
		t.Fatalf("unknown account: %+v", infos)
	}
	if _, found, err := e.svc.LookupAgent(e.ctx, u.id, "b"); err != nil || !found {
		t.Fatalf("LookupAgent b: %v %v", found, err)
	}
	for _, id := range []string{"z", "bad id", ""} {
		if _, found, err := e.svc.LookupAgent(e.ctx, u.id, id); err != nil || found {
			t.Fatalf("LookupAgent %q: %v %v", id, found, err)
		}
	}
	if _, found, _ := e.svc.LookupAgent(e.ctx, admin.id, "a"); found {
		t.Fatal("another account's agent found")
	}
	r := must(e.svc.RelayAgents(e.ctx, console.RelayAgentsRequest{AccountID: u.id, AgentIDs: []string{"b", "zz", "a", "x y"}})).of(t)
	if len(r.Items) != 2 || r.Items[0].AgentID != "a" || r.Items[1].AgentID != "b" || r.Items[0].EWSPVersions == nil {
		t.Fatalf("RelayAgents by id: %+v", r)
	}
	r = must(e.svc.RelayAgents(e.ctx, console.RelayAgentsRequest{AccountID: u.id, Limit: 1})).of(t)
	if len(r.Items) != 1 || r.Items[0].AgentID != "a" {
		t.Fatalf("RelayAgents limit 1: %+v", r)
	}
	r = must(e.svc.RelayAgents(e.ctx, console.RelayAgentsRequest{AccountID: "someone"})).of(t)
	if len(r.Items) != 0 {
		t.Fatalf("RelayAgents unknown account: %+v", r)
	}
}

// TestPresenceThrottle drives the presence observer with an injected
// clock: last_seen is written at connect and disconnect, at most once per
// 60 s per agent (deferred values flushed later), metadata changes at
// once, and agent.online / agent.offline are always published.
func TestPresenceThrottle(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Pi"})).of(t)
	e.events.take()
	lastSeen := func() time.Time {
		t.Helper()
		a := must(e.svc.GetAgent(e.ctx, u.caller, "pi")).of(t)
		if a.LastSeen == nil {
			return time.Time{}
		}
		return *a.LastSeen
	}
	ev := func(online bool, reason string) relay.PresenceEvent {
		return relay.PresenceEvent{Account: u.id, AgentID: "pi", Online: online, Time: e.clock.Now(), Reason: reason,
			Node: "node-1", RemoteIP: "203.0.113.9", EWSPVersions: []string{"2"}, FirmwareVersion: "1.0.0", Platform: "linux-arm64"}
	}
	t0 := e.clock.Now().UTC().Truncate(time.Millisecond)
	e.svc.ObservePresence(ev(true, ""))
	if got := lastSeen(); !got.Equal(t0) {
		t.Fatalf("last_seen after connect: %v, want %v", got, t0)
	}
	a := must(e.svc.GetAgent(e.ctx, u.caller, "pi")).of(t)
	if *a.RemoteIP != "203.0.113.9" || *a.FirmwareVersion != "1.0.0" || *a.Platform != "linux-arm64" || !slices.Equal(a.EWSPVersions, []string{"2"}) {
		t.Fatalf("declared metadata: %+v", a)
	}
	e.clk.Advance(10 * time.Second)
	e.svc.ObservePresence(ev(false, "timeout")) // within 60 s: deferred
	e.clk.Advance(10 * time.Second)
	e.svc.ObservePresence(ev(true, "")) // same metadata: deferred
	e.relay.setOnline(u.id, relay.AgentPresence{AgentID: "pi"})
	if got := lastSeen(); !got.Equal(t0) {
		t.Fatalf("last_seen after throttled events: %v, want %v", got, t0)
	}
	ok(t, e.svc.FlushPresence(e.ctx, false)) // still within 60 s of the write
	if got := lastSeen(); !got.Equal(t0) {
		t.Fatalf("last_seen after an early flush: %v", got)
	}
	e.clk.Advance(41 * time.Second)
	ok(t, e.svc.FlushPresence(e.ctx, false))
	if got, want := lastSeen(), t0.Add(20*time.Second); !got.Equal(want) {
		t.Fatalf("last_seen after the flush: %v, want the deferred %v", got, want)
	}
	// Connected a minute more: the flush refreshes it (online on the relay).
	e.clk.Advance(61 * time.Second)
	ok(t, e.svc.FlushPresence(e.ctx, false))
	now := e.clock.Now().UTC().Truncate(time.Millisecond)
	if got := lastSeen(); !got.Equal(now) {
		t.Fatalf("last_seen of a connected agent after a minute: %v, want %v", got, now)
	}
	// New metadata is written at once.
	e.clk.Advance(5 * time.Second)
	up := ev(true, "")
	up.FirmwareVersion = "1.1.0"
	e.svc.ObservePresence(up)
	if a := must(e.svc.GetAgent(e.ctx, u.caller, "pi")).of(t); *a.FirmwareVersion != "1.1.0" {
		t.Fatalf("firmware after a re-connect: %v", *a.FirmwareVersion)
	}
	// A firmware version auth refuses is dropped, last_seen still written.
	e.clk.Advance(61 * time.Second)
	bad := ev(true, "")
	bad.FirmwareVersion = "not semver"
	e.svc.ObservePresence(bad)
	if got := lastSeen(); !got.Equal(e.clock.Now().UTC().Truncate(time.Millisecond)) {
		t.Fatalf("last_seen with bad metadata: %v", got)
	}
	// Shutdown: a forced flush writes what is deferred.
	e.relay.setOnline(u.id)
	e.clk.Advance(time.Second)
	off := ev(false, "shutdown")
	e.svc.ObservePresence(off)
	ok(t, e.svc.FlushPresence(e.ctx, true))
	if got := lastSeen(); !got.Equal(off.Time.UTC().Truncate(time.Millisecond)) {
		t.Fatalf("last_seen after a forced flush: %v, want %v", got, off.Time)
	}

	evs := e.events.take()
	want := []string{"agent.online", "agent.offline", "agent.online", "agent.online", "agent.online", "agent.offline"}
	if !slices.Equal(types(evs), want) {
		t.Fatalf("events %v, want %v", types(evs), want)
	}
	if string(evs[1].Data) == "" || evs[1].Account != u.id {
		t.Fatalf("offline event: %+v", evs[1])
	}

	// The internal presence endpoint: unknown agents are not accepted.
	res := must(e.svc.RelayPresence(e.ctx, console.RelayPresenceRequest{NodeID: "ext-1", Events: []console.RelayPresenceEvent{
		{AccountID: u.id, AgentID: "pi", Status: "offline", TS: e.clock.Now().Add(time.Hour), Reason: "closed"},
		{AccountID: u.id, AgentID: "ghost", Status: "online", TS: e.clock.Now()},
	}})).of(t)
	if res.Accepted != 1 {
		t.Fatalf("accepted %d, want 1", res.Accepted)
	}
	_, err := e.svc.RelayPresence(e.ctx, console.RelayPresenceRequest{NodeID: "ext-1", Events: []console.RelayPresenceEvent{{AccountID: "x", AgentID: "pi", Status: "gone"}}})
	wantCode(t, "malformed presence", err, auth.CodeValidationFailed)
}

// TestRelayEndToEnd runs a real relay with the console as its
// Authenticator, Directory and presence observer: an agent connects with
// its wld_, shows online, and its connection is closed 4001 within 1 s of
// rotate-token; a client on its wl_ gets a relay session.
func TestRelayEndToEnd(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	u := e.user(admin, "alice")
	rs := relaytest.NewServer(t, e.svc, relay.Config{Node: "n1", OnPresence: e.svc.ObservePresence})
	e.svc.SetRelay(rs.Relay)
	t.Cleanup(func() { e.svc.SetRelay(nil) })
	ag := must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Pi"})).of(t)
	must(e.svc.CreateAgent(e.ctx, u.caller, console.CreateAgentRequest{AgentID: "idle", Name: "Idle"})).of(t)

	client := rs.Client(t, u.wl)
	snap := client.Expect(t, "presence")
	if len(snap.Agents) != 2 || snap.Agents[0].AgentID != "idle" || snap.Agents[1].Status != "offline" {
		t.Fatalf("presence snapshot: %s", snap.Raw)
	}
	agent := rs.Agent(t, ag.DeviceToken.Reveal(), "pi")
	st := client.Expect(t, "device_status")
	if st.AgentID != "pi" || st.Status != "online" {
		t.Fatalf("device_status: %s", st.Raw)
	}
	a := must(e.svc.GetAgent(e.ctx, u.caller, "pi")).of(t)
	if !a.Online || *a.Node != "n1" || a.ConnectedSince == nil || a.LastSeen == nil || *a.FirmwareVersion != "1.2.3" {
		t.Fatalf("agent while connected: %+v", a)
	}
	// A frame from the client reaches the agent (the directory knows it).
	ok(t, client.Relay("pi", "m1", "hello"))
	if f := agent.Expect(t, "relay"); f.Packet != "hello" {
		t.Fatalf("relayed: %s", f.Raw)
	}
	if ack := client.Expect(t, "ack"); ack.MID != "m1" || ack.Status != "delivered" {
		t.Fatalf("ack: %s", ack.Raw)
	}
	ok(t, client.Relay("idle", "m2", "x"))
	if ack := client.Expect(t, "ack"); ack.MID != "m2" || (ack.Status != "queued" && ack.Status != "offline") {
		t.Fatalf("ack for a registered offline agent: %s", ack.Raw)
	}

	start := time.Now()
	must(e.svc.RotateAgentToken(e.ctx, u.caller, "pi", console.RotateAgentTokenRequest{})).of(t)
	code, _, err := agent.Closed(2 * time.Second)
	if err != nil || code != relay.CloseTokenRevoked {
		t.Fatalf("agent connection after rotate-token: code %d, %v; want 4001", code, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("closed after %v, want within 1 s", d)
	}
	relaytest.WaitFor(t, "agent offline", func() bool {
		a := must(e.svc.GetAgent(e.ctx, u.caller, "pi")).of(t)
		return !a.Online
	})
	// The old token is refused, the new one... was shown once; deleting
	// the agent closes the client's view of it (unknown_agent).
	p, err := relaytest.Dial(e.ctx, rs.URL)
	ok(t, err)
	defer p.Close()
	f := must(p.AuthAgent(ag.DeviceToken.Reveal(), "pi")).of(t)
	if f.Status != "failed" || f.Error != relay.CodeTokenRevoked {
		t.Fatalf("old device token: %s", f.Raw)
	}
	ok(t, e.svc.DeleteAgent(e.ctx, u.caller, "idle"))
	relaytest.WaitFor(t, "unknown_agent after delete", func() bool {
		mid := "d" + time.Now().Format("150405.000000")
		if client.Relay("idle", mid, "x") != nil {
			return false
		}
		ack, err := client.RecvType("ack", time.Second)
		return err == nil && ack.Status == "unknown_agent"
	})
	evs := types(e.events.take())
	if !slices.Contains(evs, "agent.online") || !slices.Contains(evs, "agent.offline") {
		t.Fatalf("events: %v", evs)
	}
}
