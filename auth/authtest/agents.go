package authtest

import (
	"fmt"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

func agentCases() []testCase {
	return []testCase{
		{"Agent/RoundTrip", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			a := auth.Agent{
				OwnerID: u.ID, AgentID: "WL0A1B2C3D", Name: "Living room Pi", Platform: "linux-arm64", Channel: "beta",
				FirmwareVersion: "1.2.3-rc.1", EWSPVersions: []string{"1.0", "2"},
				Targets: []auth.Target{
					{Name: "desktop", MAC: "AA:BB:CC:DD:EE:01", Broadcast: "192.168.1.255", Port: 9},
					{Name: "nas box", MAC: "AA:BB:CC:DD:EE:02", Port: 7},
				},
				CreatedAt: e.now, UpdatedAt: e.at(time.Second), LastSeen: e.at(2 * time.Second), TokenHint: "wld_abcd…",
				TokenRotatedAt: e.at(3 * time.Second), BoundAt: e.at(4 * time.Second),
			}
			e.must(e.s.CreateAgent(e.ctx, a, 0))
			got, err := e.s.Agent(e.ctx, u.ID, a.AgentID)
			e.must(err)
			e.equal("Agent", got, a)

			// Inputs and outputs are copies.
			a.Targets[0].Name = "mutated"
			a.EWSPVersions[0] = "9"
			got.Targets[1].Name = "mutated too"
			again, err := e.s.Agent(e.ctx, u.ID, a.AgentID)
			e.must(err)
			e.equal("stored targets", again.Targets[0].Name, "desktop")
			e.equal("stored targets", again.Targets[1].Name, "nas box")
			e.equal("stored versions", again.EWSPVersions, []string{"1.0", "2"})

			min := auth.Agent{OwnerID: u.ID, AgentID: "bare", Name: "bare", Channel: "stable", CreatedAt: e.now, UpdatedAt: e.now}
			e.must(e.s.CreateAgent(e.ctx, min, 0))
			got, err = e.s.Agent(e.ctx, u.ID, "bare")
			e.must(err)
			if len(got.Targets) != 0 || len(got.EWSPVersions) != 0 || !got.LastSeen.IsZero() || got.FirmwareVersion != "" {
				e.t.Fatalf("bare agent: got %+v", got)
			}
		}},
		{"Agent/UniquePerOwner", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			v := e.user("bob", auth.RoleUser)
			e.agent(u.ID, "pi")
			a := auth.Agent{OwnerID: u.ID, AgentID: "pi", Name: "x", Channel: "stable", CreatedAt: e.now, UpdatedAt: e.now}
			e.is("same owner", e.s.CreateAgent(e.ctx, a, 0), auth.ErrConflict)
			a.OwnerID = v.ID
			e.is("other owner", e.s.CreateAgent(e.ctx, a, 0), nil)
			a.AgentID = "PI"
			e.is("ids are case-sensitive", e.s.CreateAgent(e.ctx, a, 0), nil)
			a.OwnerID = "usr_missing"
			e.is("unknown owner", e.s.CreateAgent(e.ctx, a, 0), auth.ErrNotFound)
			_, err := e.s.Agent(e.ctx, v.ID, "nope")
			e.is("Agent unknown", err, auth.ErrNotFound)
			_, err = e.s.Agent(e.ctx, "usr_missing", "pi")
			e.is("Agent of unknown owner", err, auth.ErrNotFound)
		}},
		{"Agent/Limit", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			mk := func(id string) auth.Agent {
				return auth.Agent{OwnerID: u.ID, AgentID: id, Name: id, Channel: "stable", CreatedAt: e.now, UpdatedAt: e.now}
			}
			e.is("1st", e.s.CreateAgent(e.ctx, mk("a1"), 2), nil)
			e.is("2nd", e.s.CreateAgent(e.ctx, mk("a2"), 2), nil)
			e.is("3rd", e.s.CreateAgent(e.ctx, mk("a3"), 2), auth.ErrLimitReached)
			e.is("conflict first", e.s.CreateAgent(e.ctx, mk("a1"), 2), auth.ErrConflict)
			e.is("unlimited", e.s.CreateAgent(e.ctx, mk("a3"), 0), nil)
			n, err := e.s.CountAgents(e.ctx, u.ID)
			e.must(err)
			e.equal("count", n, 3)
		}},
		{"Agent/LimitConcurrent", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			errs := race(20, func(i int) error {
				id := fmt.Sprintf("agent-%02d", i)
				return e.s.CreateAgent(e.ctx, auth.Agent{OwnerID: u.ID, AgentID: id, Name: id, Channel: "stable", CreatedAt: e.now, UpdatedAt: e.now}, 5)
			})
			ok, refused := e.tally("CreateAgent", errs, auth.ErrLimitReached)
			e.equal("created", ok, 5)
			e.equal("refused", refused, 15)
			n, err := e.s.CountAgents(e.ctx, u.ID)
			e.must(err)
			e.equal("count", n, 5)
		}},
		{"Agent/ListAndCount", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			v := e.user("bob", auth.RoleUser)
			for _, id := range []string{"b", "a", "Z", "c.1", "c-1"} {
				e.agent(u.ID, id)
			}
			e.agent(v.ID, "a")
			list, err := e.s.ListAgents(e.ctx, u.ID, "", 100)
			e.must(err)
			e.equal("order (bytes)", agentIDs(list), []string{"Z", "a", "b", "c-1", "c.1"})
			list, err = e.s.ListAgents(e.ctx, u.ID, "a", 2)
			e.must(err)
			e.equal("page", agentIDs(list), []string{"b", "c-1"})
			n, err := e.s.CountAgents(e.ctx, u.ID)
			e.must(err)
			e.equal("count", n, 5)
			n, err = e.s.CountAgents(e.ctx, "usr_missing")
			e.must(err)
			e.equal("count of nobody", n, 0)
		}},
		{"Agent/Update", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			a := e.agent(u.ID, "pi")
			b := a
			b.Name, b.Platform, b.Channel, b.FirmwareVersion = "renamed", "linux-armv7", "dev", "2.0.0"
			b.EWSPVersions = []string{"2"}
			b.Targets = []auth.Target{{Name: "pc", MAC: "02:00:00:00:00:01", Port: 9}}
			b.UpdatedAt, b.LastSeen, b.TokenHint, b.TokenRotatedAt, b.BoundAt = e.at(time.Minute), e.at(time.Minute), "wld_1234…", e.at(time.Minute), e.at(time.Minute)
			b.CreatedAt = e.at(time.Hour) // ignored
			e.must(e.s.UpdateAgent(e.ctx, b))
			got, err := e.s.Agent(e.ctx, u.ID, "pi")
			e.must(err)
			want := b
			want.CreatedAt = a.CreatedAt
			e.equal("updated", got, want)
			// Replacing the lists with empty ones clears them.
			want.Targets, want.EWSPVersions = nil, nil
			e.must(e.s.UpdateAgent(e.ctx, want))
			got, err = e.s.Agent(e.ctx, u.ID, "pi")
			e.must(err)
			e.equal("cleared targets", len(got.Targets)+len(got.EWSPVersions), 0)
			b.AgentID = "nope"
			e.is("unknown", e.s.UpdateAgent(e.ctx, b), auth.ErrNotFound)
		}},
		{"Agent/DeleteCascades", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			e.agent(u.ID, "pi")
			e.agent(u.ID, "nas")
			var devs []auth.Credential
			for _, id := range []string{"pi", "pi", "nas"} {
				d := e.newCred(u.ID, auth.KindDevice)
				d.AgentID = id
				_, err := e.s.CreateCredential(e.ctx, d, auth.Limit{})
				e.must(err)
				devs = append(devs, d)
			}
			dl := e.newCred(u.ID, auth.KindDownload)
			dl.AgentID = "pi"
			_, err := e.s.CreateCredential(e.ctx, dl, auth.Limit{})
			e.must(err)
			wl := e.cred(u.ID, auth.KindAccount)
			e.must(e.s.DeleteAgent(e.ctx, u.ID, "pi"))
			_, err = e.s.Agent(e.ctx, u.ID, "pi")
			e.is("deleted agent", err, auth.ErrNotFound)
			for _, c := range []auth.Credential{devs[0], devs[1], dl} {
				_, err := e.s.CredentialByHash(e.ctx, c.Hash)
				e.is("its credential "+c.ID, err, auth.ErrNotFound)
			}
			for _, c := range []auth.Credential{devs[2], wl} {
				_, err := e.s.CredentialByHash(e.ctx, c.Hash)
				e.is("other credential "+c.ID, err, nil)
			}
			e.is("delete again", e.s.DeleteAgent(e.ctx, u.ID, "pi"), auth.ErrNotFound)
			// The id can be reused, and old tokens do not come back.
			e.agent(u.ID, "pi")
			_, err = e.s.CredentialByHash(e.ctx, devs[0].Hash)
			e.is("old token after re-creation", err, auth.ErrNotFound)
		}},
	}
}

func agentIDs(as []auth.Agent) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.AgentID)
	}
	return out
}

func claimCases() []testCase {
	return []testCase{
		{"Claim/RoundTripAndList", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			v := e.user("bob", auth.RoleUser)
			c := auth.ClaimCode{
				ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("c1"), CodeHint: "ABCD", AgentID: "pi",
				Name: "Pi", Platform: "linux-arm64", Channel: "beta", CreatedAt: e.now, ExpiresAt: e.at(10 * time.Minute),
			}
			e.must(e.s.CreateClaimCode(e.ctx, c, 10))
			got, err := e.s.ClaimCodeByHash(e.ctx, c.Hash)
			e.must(err)
			e.equal("ClaimCodeByHash", got, c)
			_, err = e.s.ClaimCodeByHash(e.ctx, hashOf("zz"))
			e.is("unknown", err, auth.ErrNotFound)
			dup := c
			dup.ID = e.id(auth.PrefixClaim)
			e.is("same hash", e.s.CreateClaimCode(e.ctx, dup, 10), auth.ErrConflict)
			dup = c
			dup.Hash = hashOf("c-other")
			e.is("same id", e.s.CreateClaimCode(e.ctx, dup, 10), auth.ErrConflict)
			dup.ID, dup.OwnerID = e.id(auth.PrefixClaim), "usr_missing"
			e.is("unknown owner", e.s.CreateClaimCode(e.ctx, dup, 10), auth.ErrNotFound)

			short := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("c2"), CreatedAt: e.now, ExpiresAt: e.at(time.Minute)}
			used := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("c3"), CreatedAt: e.now, ExpiresAt: e.at(time.Hour)}
			bobs := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: v.ID, Hash: hashOf("c4"), CreatedAt: e.now, ExpiresAt: e.at(time.Hour)}
			for _, x := range []auth.ClaimCode{short, used, bobs} {
				e.must(e.s.CreateClaimCode(e.ctx, x, 10))
			}
			_, err = e.s.ConsumeClaimCode(e.ctx, used.Hash, "install-0123456789", e.now)
			e.must(err)
			list, err := e.s.ListClaimCodes(e.ctx, u.ID, e.now)
			e.must(err)
			e.equal("active", claimIDs(list), []string{c.ID, short.ID})
			list, err = e.s.ListClaimCodes(e.ctx, u.ID, e.at(time.Minute))
			e.must(err)
			e.equal("active after a minute", claimIDs(list), []string{c.ID})

			e.is("delete bob's as alice", e.s.DeleteClaimCode(e.ctx, u.ID, bobs.ID), auth.ErrNotFound)
			e.is("delete", e.s.DeleteClaimCode(e.ctx, u.ID, c.ID), nil)
			e.is("delete again", e.s.DeleteClaimCode(e.ctx, u.ID, c.ID), auth.ErrNotFound)
			_, err = e.s.ClaimCodeByHash(e.ctx, c.Hash)
			e.is("deleted", err, auth.ErrNotFound)
		}},
		{"Claim/MaxActive", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			mk := func(n string, exp time.Duration) auth.ClaimCode {
				return auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf(n), CreatedAt: e.now, ExpiresAt: e.at(exp)}
			}
			e.must(e.s.CreateClaimCode(e.ctx, mk("a", time.Hour), 2))
			short := mk("b", time.Minute)
			e.must(e.s.CreateClaimCode(e.ctx, short, 2))
			e.is("third", e.s.CreateClaimCode(e.ctx, mk("c", time.Hour), 2), auth.ErrLimitReached)
			e.is("unlimited", e.s.CreateClaimCode(e.ctx, mk("d", time.Hour), 0), nil)
			// Expired and used codes do not count.
			late := mk("e", time.Hour)
			late.CreatedAt = e.at(2 * time.Minute)
			e.is("after an expiry", e.s.CreateClaimCode(e.ctx, late, 3), nil)
			e.is("before a use", e.s.CreateClaimCode(e.ctx, mk("f", time.Hour), 4), auth.ErrLimitReached)
			_, err := e.s.ConsumeClaimCode(e.ctx, hashOf("a"), "install-0123456789", e.now)
			e.must(err)
			e.is("after a use", e.s.CreateClaimCode(e.ctx, mk("f", time.Hour), 4), nil)
		}},
		{"Claim/Consume", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			c := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("c"), CreatedAt: e.now, ExpiresAt: e.at(time.Minute)}
			e.must(e.s.CreateClaimCode(e.ctx, c, 0))
			got, err := e.s.ConsumeClaimCode(e.ctx, c.Hash, "install-aaaaaaaaaaaa", e.at(time.Second))
			e.must(err)
			want := c
			want.UsedAt, want.InstallID = e.at(time.Second), "install-aaaaaaaaaaaa"
			e.equal("consumed", got, want)
			got, err = e.s.ConsumeClaimCode(e.ctx, c.Hash, "install-bbbbbbbbbbbb", e.at(2*time.Second))
			e.is("second use", err, auth.ErrUsed)
			e.equal("second use returns the claim", got, want)
			// Used wins over expired (the install_id retry needs it).
			got, err = e.s.ConsumeClaimCode(e.ctx, c.Hash, "install-aaaaaaaaaaaa", e.at(time.Hour))
			e.is("used, later expired", err, auth.ErrUsed)
			e.equal("install id", got.InstallID, "install-aaaaaaaaaaaa")
			e.must(e.s.SetClaimAgent(e.ctx, c.ID, "WL00000001"))
			got, err = e.s.ClaimCodeByHash(e.ctx, c.Hash)
			e.must(err)
			e.equal("bound agent", got.BoundAgentID, "WL00000001")
			e.is("SetClaimAgent unknown", e.s.SetClaimAgent(e.ctx, "clm_missing", "x"), auth.ErrNotFound)

			x := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("x"), CreatedAt: e.now, ExpiresAt: e.at(time.Minute)}
			e.must(e.s.CreateClaimCode(e.ctx, x, 0))
			_, err = e.s.ConsumeClaimCode(e.ctx, x.Hash, "install-aaaaaaaaaaaa", e.at(time.Minute))
			e.is("at expiry", err, auth.ErrExpired)
			got, err = e.s.ClaimCodeByHash(e.ctx, x.Hash)
			e.must(err)
			e.equal("expired stays unused", got.UsedAt.IsZero(), true)
			_, err = e.s.ConsumeClaimCode(e.ctx, hashOf("none"), "install-aaaaaaaaaaaa", e.now)
			e.is("unknown", err, auth.ErrNotFound)
		}},
		{"Claim/ConsumeConcurrent", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			c := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("c"), CreatedAt: e.now, ExpiresAt: e.at(time.Minute)}
			e.must(e.s.CreateClaimCode(e.ctx, c, 0))
			winner := make([]string, 50)
			errs := race(50, func(i int) error {
				id := fmt.Sprintf("install-%012d", i)
				got, err := e.s.ConsumeClaimCode(e.ctx, c.Hash, id, e.now)
				if err == nil {
					winner[i] = got.InstallID
				}
				return err
			})
			ok, used := e.tally("ConsumeClaimCode", errs, auth.ErrUsed)
			e.equal("winners", ok, 1)
			e.equal("losers", used, 49)
			got, err := e.s.ClaimCodeByHash(e.ctx, c.Hash)
			e.must(err)
			found := false
			for _, w := range winner {
				found = found || (w != "" && w == got.InstallID)
			}
			e.equal("stored install id is the winner's", found, true)
		}},
	}
}

func claimIDs(cs []auth.ClaimCode) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
