package console_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func TestAdminUsers(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		e := newEnv(t, open)
		admin := e.setup()
		alice := e.user(admin, "alice")
		for _, n := range []string{"bob", "carol", "dave"} {
			must(e.svc.CreateUser(e.ctx, admin.caller, console.CreateUserRequest{Username: n, Password: "sufficiently long password 42",
				Email: n + "@example.org"})).of(t)
		}
		_, err := e.svc.CreateUser(e.ctx, admin.caller, console.CreateUserRequest{Username: "BOB", Password: "sufficiently long password 42"})
		wantCode(t, "taken username", err, auth.CodeUsernameTaken)
		_, err = e.svc.CreateUser(e.ctx, admin.caller, console.CreateUserRequest{Username: "erin", Password: "short"})
		wantCode(t, "weak password", err, auth.CodePasswordTooWeak)
		must(e.svc.CreateAgent(e.ctx, alice.caller, console.CreateAgentRequest{AgentID: "pi", Name: "Pi"})).of(t)

		// Pages through every user.
		var names []string
		req := console.ListUsersRequest{Limit: 2}
		for {
			page := must(e.svc.ListUsers(e.ctx, admin.caller, req)).of(t)
			if page.Total != 5 {
				t.Fatalf("total %d", page.Total)
			}
			for _, u := range page.Items {
				names = append(names, u.Username)
				if u.Username == "alice" && (u.AgentsCount != 1 || u.AgentsLimit != 10) {
					t.Fatalf("alice: %+v", u)
				}
			}
			if page.NextCursor == nil {
				break
			}
			req.Cursor = *page.NextCursor
		}
		if !slices.Equal(names, []string{"admin", "alice", "bob", "carol", "dave"}) {
			t.Fatalf("users: %v", names)
		}
		page := must(e.svc.ListUsers(e.ctx, admin.caller, console.ListUsersRequest{Q: "EXAMPLE", Role: auth.RoleUser})).of(t)
		if page.Total != 3 {
			t.Fatalf("q filter: %+v", page)
		}
		must(e.svc.CreateAgent(e.ctx, alice.caller, console.CreateAgentRequest{AgentID: "pj", Name: "Pj"})).of(t)
		ap := must(e.svc.ListAgents(e.ctx, alice.caller, console.AgentFilter{Limit: 1})).of(t)
		_, err = e.svc.ListUsers(e.ctx, admin.caller, console.ListUsersRequest{Cursor: *ap.NextCursor})
		wantCode(t, "a cursor of another list", err, auth.CodeValidationFailed)

		// Update: role, email, limit; last admin; disable → account.updated.
		admRole, userRole := auth.RoleAdmin, auth.RoleUser
		_, err = e.svc.UpdateUser(e.ctx, admin.caller, admin.id, console.UpdateUserRequest{Role: &userRole})
		wantCode(t, "demote the last admin", err, auth.CodeLastAdmin)
		wantCode(t, "delete the last admin", e.svc.DeleteUser(e.ctx, admin.caller, admin.id), auth.CodeLastAdmin)
		three, empty := 3, ""
		au := must(e.svc.UpdateUser(e.ctx, admin.caller, alice.id, console.UpdateUserRequest{Role: &admRole, AgentsLimit: &three, Email: &empty})).of(t)
		if au.Role != auth.RoleAdmin || au.AgentsLimit != 3 || au.Email != nil {
			t.Fatalf("updated: %+v", au)
		}
		au = must(e.svc.UpdateUser(e.ctx, admin.caller, alice.id, console.UpdateUserRequest{ResetAgentsLimit: true})).of(t)
		if au.AgentsLimit != 10 {
			t.Fatalf("limit back to the setting: %+v", au)
		}
		_, err = e.svc.UpdateUser(e.ctx, admin.caller, "usr_"+zeros(26), console.UpdateUserRequest{Role: &admRole})
		wantCode(t, "unknown user", err, auth.CodeUserNotFound)
		e.events.take()
		dis := true
		must(e.svc.UpdateUser(e.ctx, admin.caller, alice.id, console.UpdateUserRequest{Disabled: &dis})).of(t)
		if evs := e.events.take(); len(evs) != 1 || evs[0].Type != console.EventAccountUpdated || evs[0].User != alice.id {
			t.Fatalf("events: %+v", evs)
		}

		// Lockout and unlock.
		for range 5 {
			e.svc.Login(e.ctx, console.LoginRequest{Username: "bob", Password: "wrong password!!"})
		}
		bob := must(e.svc.ListUsers(e.ctx, admin.caller, console.ListUsersRequest{Q: "bob"})).of(t).Items[0]
		if bob.LockedUntil == nil {
			t.Fatalf("bob not locked: %+v", bob)
		}
		if st := must(e.svc.AdminStats(e.ctx, admin.caller)).of(t); st.Users.Locked != 1 || st.Users.Disabled != 1 || st.Users.Admins != 2 {
			t.Fatalf("stats users: %+v", st.Users)
		}
		bobU := must(e.svc.UnlockUser(e.ctx, admin.caller, bob.ID)).of(t)
		if bobU.LockedUntil != nil {
			t.Fatalf("after unlock: %+v", bobU)
		}
		must(e.svc.Login(e.ctx, console.LoginRequest{Username: "bob", Password: "sufficiently long password 42"})).of(t)

		// Reset password, then delete.
		must(e.svc.ResetUserPassword(e.ctx, admin.caller, bob.ID, console.ResetPasswordRequest{NewPassword: "brand new long password"})).of(t)
		_, err = e.svc.Login(e.ctx, console.LoginRequest{Username: "bob", Password: "sufficiently long password 42"})
		wantCode(t, "old password after reset", err, auth.CodeInvalidCredentials)
		_, err = e.svc.ResetUserPassword(e.ctx, admin.caller, bob.ID, console.ResetPasswordRequest{NewPassword: "x"})
		wantCode(t, "weak reset", err, auth.CodePasswordTooWeak)
		ok(t, e.svc.DeleteUser(e.ctx, admin.caller, bob.ID))
		_, err = e.svc.GetUser(e.ctx, admin.caller, bob.ID)
		wantCode(t, "deleted user", err, auth.CodeUserNotFound)

		got := e.auditActions(admin)
		for _, a := range []string{"user.created", "user.updated", "auth.password_changed", "user.deleted", "auth.locked"} {
			if !slices.Contains(got, a) {
				t.Fatalf("audit lacks %s: %v", a, got)
			}
		}
		// The audit log pages newest first and filters by actor.
		all := must(e.svc.ListAudit(e.ctx, admin.caller, console.ListAuditRequest{ActorID: admin.id, Limit: 200})).of(t)
		var paged []string
		areq := console.ListAuditRequest{ActorID: admin.id, Limit: 3}
		for {
			p := must(e.svc.ListAudit(e.ctx, admin.caller, areq)).of(t)
			if p.Total != all.Total {
				t.Fatalf("audit total %d, want %d", p.Total, all.Total)
			}
			for _, it := range p.Items {
				paged = append(paged, it.ID)
			}
			if p.NextCursor == nil {
				break
			}
			areq.Cursor = *p.NextCursor
		}
		var ids []string
		for _, it := range all.Items {
			ids = append(ids, it.ID)
			if *it.ActorID != admin.id {
				t.Fatalf("actor filter: %+v", it)
			}
		}
		if !slices.Equal(paged, ids) || !slices.IsSortedFunc(ids, func(a, b string) int { return -compare(a, b) }) {
			t.Fatalf("audit pages %v, want %v (newest first)", paged, ids)
		}
		_, err = e.svc.ListAudit(e.ctx, admin.caller, console.ListAuditRequest{From: e.clock.Now(), To: e.clock.Now().Add(-time.Hour)})
		wantCode(t, "to before from", err, auth.CodeValidationFailed)
	})
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestAdminAgentsAndStats(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	alice, bob := e.user(admin, "alice"), e.user(admin, "bob")
	for _, id := range []string{"a1", "a2"} {
		must(e.svc.CreateAgent(e.ctx, alice.caller, console.CreateAgentRequest{AgentID: id, Name: id, Platform: "esp32"})).of(t)
	}
	must(e.svc.CreateAgent(e.ctx, bob.caller, console.CreateAgentRequest{AgentID: "b1", Name: "b1"})).of(t)
	e.relay.setOnline(bob.id, relay.AgentPresence{AgentID: "b1", Node: "n"})
	page := must(e.svc.ListAllAgents(e.ctx, admin.caller, console.AgentFilter{})).of(t)
	if page.Total != 3 {
		t.Fatalf("all agents: %+v", page)
	}
	online := true
	page = must(e.svc.ListAllAgents(e.ctx, admin.caller, console.AgentFilter{Online: &online})).of(t)
	if page.Total != 1 || page.Items[0].OwnerID != bob.id || !page.Items[0].Online {
		t.Fatalf("online across accounts: %+v", page)
	}
	page = must(e.svc.ListAllAgents(e.ctx, admin.caller, console.AgentFilter{OwnerID: alice.id, Sort: console.SortName, Order: "desc", Limit: 1})).of(t)
	if page.Total != 2 || page.Items[0].AgentID != "a2" || page.NextCursor == nil {
		t.Fatalf("owner filter: %+v", page)
	}
	next := must(e.svc.ListAllAgents(e.ctx, admin.caller, console.AgentFilter{OwnerID: alice.id, Sort: console.SortName, Order: "desc",
		Limit: 1, Cursor: *page.NextCursor})).of(t)
	if len(next.Items) != 1 || next.Items[0].AgentID != "a1" || next.NextCursor != nil {
		t.Fatalf("second page: %+v", next)
	}
	// A cursor is tied to its sort, order and list.
	for _, f := range []console.AgentFilter{
		{OwnerID: alice.id, Sort: console.SortName, Cursor: *page.NextCursor},
		{OwnerID: alice.id, Sort: console.SortAgentID, Order: "desc", Cursor: *page.NextCursor},
	} {
		_, err := e.svc.ListAllAgents(e.ctx, admin.caller, f)
		wantCode(t, "mismatched cursor", err, auth.CodeValidationFailed)
	}
	_, err := e.svc.ListAgents(e.ctx, alice.caller, console.AgentFilter{Sort: console.SortName, Order: "desc", Cursor: *page.NextCursor})
	wantCode(t, "an admin cursor on GET /agents", err, auth.CodeValidationFailed)
	for name, f := range map[string]console.AgentFilter{
		"owner":    {OwnerID: "bob"},
		"sort":     {Sort: "size"},
		"order":    {Order: "up"},
		"platform": {Platform: "Linux"},
		"channel":  {Channel: "nightly"},
		"q":        {Q: string(make([]byte, 65))},
		"limit":    {Limit: 500},
	} {
		_, err := e.svc.ListAllAgents(e.ctx, admin.caller, f)
		wantCode(t, "bad "+name, err, auth.CodeValidationFailed)
	}

	st := must(e.svc.AdminStats(e.ctx, e.caller(admin.wl, console.AuthCAdmin))).of(t)
	if st.Users.Total != 3 || st.Agents.Total != 3 || st.Agents.ByPlatform["esp32"] != 2 || st.Agents.ByPlatform[""] != 1 ||
		st.Agents.Online != 2 || st.Relay.Connections.Clients != 1 || st.Relay.Drops.RateLimited != 2 || st.Relay.AuthFailures != 4 ||
		st.Server.DBEngine != "sqlite" || st.Server.Broker != "inproc" || st.Server.Version != "1.2.3" || st.Relay.Scope != "node" ||
		st.SessionsActive != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestServiceUnavailable closes the database under the Service: use cases
// answer SERVICE_UNAVAILABLE, and health degrades.
func TestServiceUnavailable(t *testing.T) {
	e := newEnv(t, sqliteOnly(t))
	admin := e.setup()
	ok(t, e.db.Close())
	_, err := e.svc.GetAgent(e.ctx, admin.caller, "pi")
	wantCode(t, "GetAgent on a closed database", err, console.CodeServiceUnavailable)
	if !errors.Is(err, console.ErrUnavailable) {
		t.Fatalf("error chain: %v", err)
	}
	_, err = e.svc.CreateAgent(e.ctx, admin.caller, console.CreateAgentRequest{Name: "x"})
	wantCode(t, "CreateAgent on a closed database", err, console.CodeServiceUnavailable)
	if h := e.svc.Health(e.ctx); h.Status != "degraded" {
		t.Fatalf("health: %+v", h)
	}
	ctx, cancel := context.WithTimeout(e.ctx, time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if console.CodeOf(ctx.Err()) != console.CodeServiceUnavailable {
		t.Fatal("a deadline is SERVICE_UNAVAILABLE")
	}
}
