package consoletest

import (
	"context"
	"fmt"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func userCases() []testCase {
	return []testCase{
		{"Users/ListFiltersPages", func(e *env) {
			type spec struct {
				name, email string
				role        auth.Role
				disabled    bool
				agents      int
			}
			specs := []spec{
				{"admin", "root@example.org", auth.RoleAdmin, false, 0},
				{"alice", "alice@example.org", auth.RoleUser, false, 2},
				{"bob", "", auth.RoleUser, true, 1},
				{"carol_x", "c@EXAMPLE.com", auth.RoleAdmin, true, 0},
				{"dave", "dave@example.org", auth.RoleUser, false, 0},
			}
			var users []auth.User
			for _, sp := range specs {
				u := e.user(sp.name, sp.role)
				if sp.email != "" || sp.disabled {
					email, dis := sp.email, sp.disabled
					var err error
					u, err = e.a.UpdateUser(e.ctx, u.ID, auth.UserPatch{Email: &email, Disabled: &dis})
					e.must(err)
				}
				for i := range sp.agents {
					e.agent(u.ID, fmt.Sprintf("a%d", i), "x", "", e.now)
				}
				users = append(users, u)
			}
			count := map[string]int{}
			for i, sp := range specs {
				count[users[i].ID] = sp.agents
			}
			yes, no := true, false
			for _, tc := range []struct {
				q    console.UserQuery
				want []int // indexes into users
			}{
				{console.UserQuery{}, []int{0, 1, 2, 3, 4}},
				{console.UserQuery{Q: "example.org"}, []int{0, 1, 4}},
				{console.UserQuery{Q: "EXAMPLE.COM"}, []int{3}},
				{console.UserQuery{Q: "l_x"}, []int{3}},
				{console.UserQuery{Q: "a"}, []int{0, 1, 3, 4}},
				{console.UserQuery{Role: auth.RoleAdmin}, []int{0, 3}},
				{console.UserQuery{Disabled: &yes}, []int{2, 3}},
				{console.UserQuery{Disabled: &no, Role: auth.RoleUser}, []int{1, 4}},
				{console.UserQuery{Username: "ALICE"}, []int{1}},
				{console.UserQuery{Username: "alic"}, nil},
			} {
				q := tc.q
				q.Limit = 2
				var got []string
				for page := 0; ; page++ {
					rows, total, err := e.s.ListUsers(e.ctx, q)
					e.must(err)
					e.equal(fmt.Sprintf("total of %+v", tc.q), total, len(tc.want))
					for _, r := range rows {
						got = append(got, r.ID)
						e.equal("agents count of "+r.Username, r.AgentsCount, count[r.ID])
						u, err := e.a.UserByID(e.ctx, r.ID)
						e.must(err)
						e.equal("user row of "+r.Username, r.User, u)
					}
					if len(rows) < q.Limit {
						break
					}
					q.After = rows[len(rows)-1].ID
					if page > 10 {
						e.t.Fatal("pagination does not end")
					}
				}
				var want []string
				for _, i := range tc.want {
					want = append(want, users[i].ID)
				}
				e.equal(fmt.Sprintf("ListUsers %+v", tc.q), got, want)
			}
		}},
		{"Counts", func(e *env) {
			c, err := e.s.Counts(e.ctx, e.now)
			e.must(err)
			e.equal("counts of an empty store", c, console.Counts{AgentsByPlatform: map[string]int{}})
			admin := e.user("admin", auth.RoleAdmin)
			u := e.user("alice", auth.RoleUser)
			d := e.user("dis", auth.RoleAdmin)
			dis, until := true, e.at(time.Hour)
			_, err = e.a.UpdateUser(e.ctx, d.ID, auth.UserPatch{Disabled: &dis})
			e.must(err)
			_, err = e.a.UpdateUser(e.ctx, u.ID, auth.UserPatch{LockedUntil: &until})
			e.must(err)
			e.agent(u.ID, "a", "a", "esp32", e.now)
			e.agent(u.ID, "b", "b", "esp32", e.now)
			e.agent(admin.ID, "c", "c", "", e.now)
			cred := func(id string, k auth.Kind, exp, rev time.Time) {
				_, err := e.a.CreateCredential(e.ctx, auth.Credential{ID: id, Kind: k, Hash: [32]byte{byte(e.seq.Add(1))},
					UserID: u.ID, CreatedAt: e.now, ExpiresAt: exp, RevokedAt: rev}, auth.Limit{})
				e.must(err)
			}
			cred(e.id(auth.PrefixSession), auth.KindSession, e.at(time.Hour), time.Time{})
			cred(e.id(auth.PrefixSession), auth.KindSession, e.at(time.Hour), e.at(time.Minute))  // revoked later: live now
			cred(e.id(auth.PrefixSession), auth.KindSession, e.at(-time.Minute), time.Time{})     // expired
			cred(e.id(auth.PrefixSession), auth.KindSession, e.at(time.Hour), e.at(-time.Second)) // revoked
			cred(e.id(auth.PrefixMCP), auth.KindMCP, e.at(time.Hour), time.Time{})
			cred(e.id(auth.PrefixCredential), auth.KindAccount, time.Time{}, time.Time{})
			c, err = e.s.Counts(e.ctx, e.now)
			e.must(err)
			e.equal("counts", c, console.Counts{Users: 3, Admins: 2, DisabledUsers: 1, LockedUsers: 1, Agents: 3,
				AgentsByPlatform: map[string]int{"esp32": 2, "": 1}, SessionsActive: 2, MCPTokensActive: 1})
			c, err = e.s.Counts(e.ctx, e.at(2*time.Hour))
			e.must(err)
			e.equal("counts later: no lockout, no live session", [3]int{c.LockedUsers, c.SessionsActive, c.MCPTokensActive}, [3]int{0, 0, 0})
		}},
		{"SharedTransactions", func(e *env) {
			owner := e.user("owner", auth.RoleUser)
			committed := false
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				// Auth and console writes through one ctx: one transaction.
				e.must(e.a.CreateAgent(ctx, auth.Agent{OwnerID: owner.ID, AgentID: "tx", Name: "tx", Channel: "stable",
					CreatedAt: e.now, UpdatedAt: e.now}, 0))
				e.must(e.s.SetAgentRemoteIP(ctx, owner.ID, "tx", "192.0.2.7"))
				e.must(e.s.AppendAudit(ctx, console.AuditRecord{ID: e.id("aud_"), At: e.now, ActorKind: console.ActorSystem, Action: "x", Result: "success"}))
				e.must(e.s.PutUISettings(ctx, owner.ID, console.DefaultUISettings()))
				rows, _, err := e.s.ListAgents(ctx, console.AgentQuery{OwnerID: owner.ID, Limit: 5})
				e.must(err)
				e.equal("console sees auth's uncommitted agent", len(rows), 1)
				e.a.AfterCommit(ctx, func() { committed = true })
				return errBoom
			})
			e.is("InTx", err, errBoom)
			e.equal("AfterCommit after a rollback", committed, false)
			_, err = e.a.Agent(e.ctx, owner.ID, "tx")
			e.is("auth's write after the rollback", err, auth.ErrNotFound)
			_, total, err := e.s.ListAudit(e.ctx, console.AuditQuery{Limit: 1})
			e.must(err)
			e.equal("audit rows after the rollback", total, 0)
			_, err = e.s.UISettings(e.ctx, owner.ID)
			e.is("ui settings after the rollback", err, console.ErrStoreNotFound)
			err = e.a.InTx(e.ctx, func(ctx context.Context) error {
				e.s.AfterCommit(ctx, func() { committed = true })
				return e.s.AppendAudit(ctx, console.AuditRecord{ID: e.id("aud_"), At: e.now, ActorKind: console.ActorSystem, Action: "x", Result: "success"})
			})
			e.must(err)
			e.equal("AfterCommit after a commit", committed, true)
		}},
	}
}
