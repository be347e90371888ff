package authtest

import (
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

func credentialCases() []testCase {
	return []testCase{
		{"Credential/RoundTrip", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			e.agent(u.ID, "pi")
			full := auth.Credential{
				ID: e.id(auth.PrefixSession), Kind: auth.KindSession, Hash: hashOf("s1"), UserID: u.ID,
				ParentID: "tok_parent", Label: "laptop", CreatedVia: auth.ViaAPIToken, Scope: "write",
				Resource: "rel_1", Generation: 4, CreatedAt: e.now, ExpiresAt: e.at(time.Hour),
				LastUsedAt: e.at(time.Second), RevokedAt: e.at(2 * time.Hour), UsedAt: e.at(3 * time.Second),
			}
			dev := e.newCred(u.ID, auth.KindDevice)
			dev.AgentID = "pi"
			for _, c := range []auth.Credential{full, dev, e.newCred(u.ID, auth.KindAccount)} {
				ev, err := e.s.CreateCredential(e.ctx, c, auth.Limit{})
				e.must(err)
				e.equal("evicted", nonNil(ev), []string{})
				got, err := e.s.CredentialByHash(e.ctx, c.Hash)
				e.must(err)
				e.equal("CredentialByHash "+c.Kind.String(), got, c)
			}
			_, err := e.s.CredentialByHash(e.ctx, hashOf("unknown"))
			e.is("unknown hash", err, auth.ErrNotFound)
		}},
		{"Credential/Conflicts", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			c := e.cred(u.ID, auth.KindAccount)
			dupHash := e.newCred(u.ID, auth.KindAccount)
			dupHash.Hash = c.Hash
			_, err := e.s.CreateCredential(e.ctx, dupHash, auth.Limit{})
			e.is("same hash", err, auth.ErrConflict)
			dupID := e.newCred(u.ID, auth.KindAccount)
			dupID.ID = c.ID
			_, err = e.s.CreateCredential(e.ctx, dupID, auth.Limit{})
			e.is("same id", err, auth.ErrConflict)
			_, err = e.s.CreateCredential(e.ctx, e.newCred("usr_missing", auth.KindAccount), auth.Limit{})
			e.is("unknown user", err, auth.ErrNotFound)
			dev := e.newCred(u.ID, auth.KindDevice)
			dev.AgentID = "no-such-agent"
			_, err = e.s.CreateCredential(e.ctx, dev, auth.Limit{})
			e.is("unknown agent", err, auth.ErrNotFound)
		}},
		{"Credential/LimitEvictsOldestPerPool", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			other := e.user("bob", auth.RoleUser)
			pool := []auth.CreatedVia{auth.ViaPassword, auth.ViaAPIToken}
			lim := auth.Limit{Max: 3, Vias: pool, Evict: true}
			var made []string
			for i := range 5 {
				c := e.newCred(u.ID, auth.KindSession)
				c.CreatedVia = pool[i%2]
				ev, err := e.s.CreateCredential(e.ctx, c, lim)
				e.must(err)
				want := []string{}
				if i >= 3 {
					want = []string{made[i-3]}
				}
				e.equal("evicted at session "+string(rune('0'+i)), nonNil(ev), want)
				made = append(made, c.ID)
			}
			// Relay sessions are capped apart and evict only relay sessions.
			rl := auth.Limit{Max: 2, Vias: []auth.CreatedVia{auth.ViaRelay}, Evict: true}
			var relay []string
			for range 3 {
				c := e.newCred(u.ID, auth.KindSession)
				c.CreatedVia = auth.ViaRelay
				_, err := e.s.CreateCredential(e.ctx, c, rl)
				e.must(err)
				relay = append(relay, c.ID)
			}
			// A bob session is in another user's pool.
			bc := e.newCred(other.ID, auth.KindSession)
			bc.CreatedVia = auth.ViaPassword
			ev, err := e.s.CreateCredential(e.ctx, bc, lim)
			e.must(err)
			e.equal("bob evicts nothing", nonNil(ev), []string{})

			live, err := e.s.ListCredentials(e.ctx, auth.CredentialQuery{UserID: u.ID, Kind: auth.KindSession, LiveAt: e.now})
			e.must(err)
			e.equal("live sessions", ids(live), []string{made[2], made[3], made[4], relay[1], relay[2]})
			old, err := e.s.CredentialByHash(e.ctx, hashOf(made[0]))
			e.must(err)
			e.equal("evicted session revoked at", old.RevokedAt, e.now)
		}},
		{"Credential/LimitRefuses", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			lim := auth.Limit{Max: 2}
			a := e.newCred(u.ID, auth.KindMCP)
			a.ExpiresAt = e.at(time.Hour)
			_, err := e.s.CreateCredential(e.ctx, a, lim)
			e.must(err)
			b := e.newCred(u.ID, auth.KindMCP)
			b.ExpiresAt = e.at(time.Hour)
			_, err = e.s.CreateCredential(e.ctx, b, lim)
			e.must(err)
			_, err = e.s.CreateCredential(e.ctx, e.newCred(u.ID, auth.KindMCP), lim)
			e.is("third", err, auth.ErrLimitReached)
			// Other kinds do not count.
			_, err = e.s.CreateCredential(e.ctx, e.newCred(u.ID, auth.KindSession), lim)
			e.is("another kind", err, nil)
			// Revoked and expired ones do not count.
			_, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{IDs: []string{a.ID}}, e.now)
			e.must(err)
			c := e.newCred(u.ID, auth.KindMCP)
			c.ExpiresAt = e.at(time.Minute)
			_, err = e.s.CreateCredential(e.ctx, c, lim)
			e.is("after a revocation", err, nil)
			late := e.newCred(u.ID, auth.KindMCP)
			late.CreatedAt = e.at(2 * time.Minute) // c has expired by then
			_, err = e.s.CreateCredential(e.ctx, late, lim)
			e.is("after an expiry", err, nil)
		}},
		{"Credential/UniqueLabel", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			v := e.user("bob", auth.RoleUser)
			lim := auth.Limit{Max: 20, UniqueLabel: true}
			mk := func(user, label string) auth.Credential {
				c := e.newCred(user, auth.KindMCP)
				c.Label = label
				return c
			}
			first := mk(u.ID, "ci")
			_, err := e.s.CreateCredential(e.ctx, first, lim)
			e.must(err)
			_, err = e.s.CreateCredential(e.ctx, mk(u.ID, "ci"), lim)
			e.is("same live name", err, auth.ErrConflict)
			_, err = e.s.CreateCredential(e.ctx, mk(v.ID, "ci"), lim)
			e.is("same name, other user", err, nil)
			_, err = e.s.CreateCredential(e.ctx, mk(u.ID, "ci"), auth.Limit{})
			e.is("without UniqueLabel", err, nil)
		}},
		{"Credential/UniqueLabelFreedByRevocation", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			lim := auth.Limit{UniqueLabel: true}
			a := e.newCred(u.ID, auth.KindMCP)
			a.Label = "ci"
			_, err := e.s.CreateCredential(e.ctx, a, lim)
			e.must(err)
			_, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{IDs: []string{a.ID}}, e.now)
			e.must(err)
			b := e.newCred(u.ID, auth.KindMCP)
			b.Label = "ci"
			_, err = e.s.CreateCredential(e.ctx, b, lim)
			e.is("name of a revoked token", err, nil)
		}},
		{"Credential/LimitConcurrent", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			errs := race(20, func(int) error {
				_, err := e.s.CreateCredential(e.ctx, e.newCred(u.ID, auth.KindMCP), auth.Limit{Max: 5})
				return err
			})
			ok, refused := e.tally("CreateCredential", errs, auth.ErrLimitReached)
			e.equal("created", ok, 5)
			e.equal("refused", refused, 15)

			errs = race(20, func(int) error {
				_, err := e.s.CreateCredential(e.ctx, e.newCred(u.ID, auth.KindSession), auth.Limit{Max: 5, Evict: true})
				return err
			})
			e.tally("CreateCredential with eviction", errs, nil)
			live, err := e.s.ListCredentials(e.ctx, auth.CredentialQuery{UserID: u.ID, Kind: auth.KindSession, LiveAt: e.now})
			e.must(err)
			e.equal("live sessions after 20 concurrent creations with cap 5", len(live), 5)
		}},
		{"Credential/ByIDAndList", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			v := e.user("bob", auth.RoleUser)
			var ss []auth.Credential
			for range 4 {
				ss = append(ss, e.cred(u.ID, auth.KindSession))
			}
			tok := e.cred(u.ID, auth.KindAccount)
			bs := e.cred(v.ID, auth.KindSession)

			got, err := e.s.CredentialsByID(e.ctx, []string{bs.ID, ss[2].ID, "ses_unknown", ss[0].ID, tok.ID})
			e.must(err)
			e.equal("CredentialsByID", ids(got), []string{ss[0].ID, ss[2].ID, bs.ID, tok.ID})
			got, err = e.s.CredentialsByID(e.ctx, nil)
			e.must(err)
			e.equal("CredentialsByID(nil)", ids(got), []string{})

			got, err = e.s.ListCredentials(e.ctx, auth.CredentialQuery{UserID: u.ID, Kind: auth.KindSession})
			e.must(err)
			e.equal("all sessions", ids(got), ids(ss))
			got, err = e.s.ListCredentials(e.ctx, auth.CredentialQuery{UserID: u.ID, Kind: auth.KindSession, After: ss[0].ID, Limit: 2})
			e.must(err)
			e.equal("page", ids(got), ids(ss[1:3]))

			_, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{IDs: []string{ss[1].ID}}, e.now)
			e.must(err)
			exp := e.newCred(u.ID, auth.KindSession)
			exp.ExpiresAt = e.at(time.Second)
			_, err = e.s.CreateCredential(e.ctx, exp, auth.Limit{})
			e.must(err)
			got, err = e.s.ListCredentials(e.ctx, auth.CredentialQuery{UserID: u.ID, Kind: auth.KindSession, LiveAt: e.at(time.Second)})
			e.must(err)
			e.equal("live sessions", ids(got), []string{ss[0].ID, ss[2].ID, ss[3].ID})
			got, err = e.s.ListCredentials(e.ctx, auth.CredentialQuery{UserID: u.ID, Kind: auth.KindSession, LiveAt: e.now})
			e.must(err)
			e.equal("live sessions before the expiry", ids(got), []string{ss[0].ID, ss[2].ID, ss[3].ID, exp.ID})
		}},
		{"Credential/Revoke", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			v := e.user("bob", auth.RoleUser)
			e.agent(u.ID, "pi")
			e.agent(u.ID, "nas")
			wl := e.cred(u.ID, auth.KindAccount)
			child := e.newCred(u.ID, auth.KindSession)
			child.ParentID = wl.ID
			_, err := e.s.CreateCredential(e.ctx, child, auth.Limit{})
			e.must(err)
			plain := e.cred(u.ID, auth.KindSession)
			pi := e.newCred(u.ID, auth.KindDevice)
			pi.AgentID = "pi"
			nas := e.newCred(u.ID, auth.KindDevice)
			nas.AgentID = "nas"
			for _, c := range []auth.Credential{pi, nas} {
				_, err := e.s.CreateCredential(e.ctx, c, auth.Limit{})
				e.must(err)
			}
			mcp := e.cred(u.ID, auth.KindMCP)
			bobs := e.cred(v.ID, auth.KindSession)

			got, err := e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{Kinds: []auth.Kind{auth.KindSession}, ParentID: wl.ID}, e.now)
			e.must(err)
			e.equal("by parent", nonNil(got), []string{child.ID})
			got, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{Kinds: []auth.Kind{auth.KindDevice}, AgentID: "pi"}, e.now)
			e.must(err)
			e.equal("by agent", nonNil(got), []string{pi.ID})
			got, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{IDs: []string{bobs.ID}}, e.now)
			e.must(err)
			e.equal("another user's id", nonNil(got), []string{})
			got, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{IDs: []string{child.ID, plain.ID}}, e.now)
			e.must(err)
			e.equal("by ids (one already revoked)", nonNil(got), []string{plain.ID})
			got, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{Kinds: []auth.Kind{auth.KindAccount, auth.KindMCP}}, e.now)
			e.must(err)
			e.equal("by kinds", nonNil(got), []string{mcp.ID, wl.ID})
			got, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{}, e.now)
			e.must(err)
			e.equal("everything left", nonNil(got), []string{nas.ID})
			c, err := e.s.CredentialByHash(e.ctx, bobs.Hash)
			e.must(err)
			e.equal("bob's session untouched", c.RevokedAt.IsZero(), true)
			c, err = e.s.CredentialByHash(e.ctx, pi.Hash)
			e.must(err)
			e.equal("revoked at", c.RevokedAt, e.now)
		}},
		{"Credential/RevokeInFuture", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			e.agent(u.ID, "pi")
			d := e.newCred(u.ID, auth.KindDevice)
			d.AgentID = "pi"
			_, err := e.s.CreateCredential(e.ctx, d, auth.Limit{})
			e.must(err)
			sel := auth.Selector{Kinds: []auth.Kind{auth.KindDevice}, AgentID: "pi"}
			got, err := e.s.RevokeCredentials(e.ctx, u.ID, sel, e.at(10*time.Minute))
			e.must(err)
			e.equal("grace revocation", nonNil(got), []string{d.ID})
			// Still live before the grace end: a later grace does not extend it…
			got, err = e.s.RevokeCredentials(e.ctx, u.ID, sel, e.at(20*time.Minute))
			e.must(err)
			e.equal("later revocation", nonNil(got), []string{})
			c, err := e.s.CredentialByHash(e.ctx, d.Hash)
			e.must(err)
			e.equal("revocation kept", c.RevokedAt, e.at(10*time.Minute))
			// …an earlier one shortens it.
			got, err = e.s.RevokeCredentials(e.ctx, u.ID, sel, e.at(time.Minute))
			e.must(err)
			e.equal("earlier revocation", nonNil(got), []string{d.ID})
			c, err = e.s.CredentialByHash(e.ctx, d.Hash)
			e.must(err)
			e.equal("revocation moved", c.RevokedAt, e.at(time.Minute))
			// Expired credentials are not revoked again.
			s := e.newCred(u.ID, auth.KindSession)
			s.ExpiresAt = e.at(time.Second)
			_, err = e.s.CreateCredential(e.ctx, s, auth.Limit{})
			e.must(err)
			got, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{IDs: []string{s.ID}}, e.at(time.Hour))
			e.must(err)
			e.equal("expired", nonNil(got), []string{})
		}},
		{"Credential/Consume", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			t := e.newCred(u.ID, auth.KindEventTicket)
			t.ExpiresAt = e.at(30 * time.Second)
			_, err := e.s.CreateCredential(e.ctx, t, auth.Limit{})
			e.must(err)
			got, err := e.s.ConsumeCredential(e.ctx, t.Hash, e.now)
			e.must(err)
			e.equal("consumed (as before)", got, t)
			got, err = e.s.ConsumeCredential(e.ctx, t.Hash, e.now)
			e.is("second use", err, auth.ErrUsed)
			e.equal("used at", got.UsedAt, e.now)
			_, err = e.s.ConsumeCredential(e.ctx, hashOf("nope"), e.now)
			e.is("unknown", err, auth.ErrNotFound)

			x := e.newCred(u.ID, auth.KindEventTicket)
			x.ExpiresAt = e.at(30 * time.Second)
			_, err = e.s.CreateCredential(e.ctx, x, auth.Limit{})
			e.must(err)
			_, err = e.s.ConsumeCredential(e.ctx, x.Hash, e.at(30*time.Second))
			e.is("at expiry", err, auth.ErrExpired)
			r := e.newCred(u.ID, auth.KindEventTicket)
			r.ExpiresAt = e.at(30 * time.Second)
			_, err = e.s.CreateCredential(e.ctx, r, auth.Limit{})
			e.must(err)
			_, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{IDs: []string{r.ID}}, e.now)
			e.must(err)
			_, err = e.s.ConsumeCredential(e.ctx, r.Hash, e.now)
			e.is("revoked", err, auth.ErrRevoked)
		}},
		{"Credential/ConsumeConcurrent", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			t := e.newCred(u.ID, auth.KindEventTicket)
			t.ExpiresAt = e.at(30 * time.Second)
			_, err := e.s.CreateCredential(e.ctx, t, auth.Limit{})
			e.must(err)
			errs := race(50, func(int) error { _, err := e.s.ConsumeCredential(e.ctx, t.Hash, e.now); return err })
			ok, used := e.tally("ConsumeCredential", errs, auth.ErrUsed)
			e.equal("winners", ok, 1)
			e.equal("losers", used, 49)
		}},
		{"Credential/TouchAndDeny", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			c := e.cred(u.ID, auth.KindSession)
			e.must(e.s.TouchCredential(e.ctx, c.ID, e.at(time.Minute)))
			got, err := e.s.CredentialByHash(e.ctx, c.Hash)
			e.must(err)
			e.equal("last used", got.LastUsedAt, e.at(time.Minute))
			e.is("touch unknown", e.s.TouchCredential(e.ctx, "ses_unknown", e.now), auth.ErrNotFound)

			denied, err := e.s.JTIDenied(e.ctx, "j1")
			e.must(err)
			e.equal("not denied", denied, false)
			e.must(e.s.DenyJTI(e.ctx, "j1", u.ID, e.at(15*time.Minute)))
			e.must(e.s.DenyJTI(e.ctx, "j1", u.ID, e.at(15*time.Minute)))
			denied, err = e.s.JTIDenied(e.ctx, "j1")
			e.must(err)
			e.equal("denied", denied, true)
		}},
		{"Credential/Purge", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			keep := e.cred(u.ID, auth.KindAccount)
			expired := e.newCred(u.ID, auth.KindSession)
			expired.ExpiresAt = e.at(-2 * time.Hour)
			_, err := e.s.CreateCredential(e.ctx, expired, auth.Limit{})
			e.must(err)
			fresh := e.newCred(u.ID, auth.KindSession)
			fresh.ExpiresAt = e.at(-time.Minute) // expired, but after the cut
			_, err = e.s.CreateCredential(e.ctx, fresh, auth.Limit{})
			e.must(err)
			revoked := e.cred(u.ID, auth.KindAccount)
			_, err = e.s.RevokeCredentials(e.ctx, u.ID, auth.Selector{IDs: []string{revoked.ID}}, e.at(-3*time.Hour))
			e.must(err)
			oldClaim := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("old"), CreatedAt: e.at(-5 * time.Hour), ExpiresAt: e.at(-4 * time.Hour)}
			newClaim := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("new"), CreatedAt: e.now, ExpiresAt: e.at(time.Hour)}
			e.must(e.s.CreateClaimCode(e.ctx, oldClaim, 0))
			e.must(e.s.CreateClaimCode(e.ctx, newClaim, 0))
			e.must(e.s.DenyJTI(e.ctx, "old", u.ID, e.at(-2*time.Hour)))
			e.must(e.s.DenyJTI(e.ctx, "new", u.ID, e.at(time.Hour)))

			n, err := e.s.Purge(e.ctx, e.at(-time.Hour))
			e.must(err)
			e.equal("purged rows", n, 4)
			for _, c := range []auth.Credential{expired, revoked} {
				_, err := e.s.CredentialByHash(e.ctx, c.Hash)
				e.is("purged "+c.ID, err, auth.ErrNotFound)
			}
			for _, c := range []auth.Credential{keep, fresh} {
				_, err := e.s.CredentialByHash(e.ctx, c.Hash)
				e.is("kept "+c.ID, err, nil)
			}
			_, err = e.s.ClaimCodeByHash(e.ctx, oldClaim.Hash)
			e.is("old claim", err, auth.ErrNotFound)
			_, err = e.s.ClaimCodeByHash(e.ctx, newClaim.Hash)
			e.is("new claim", err, nil)
			d, err := e.s.JTIDenied(e.ctx, "old")
			e.must(err)
			e.equal("old jti", d, false)
			d, err = e.s.JTIDenied(e.ctx, "new")
			e.must(err)
			e.equal("new jti", d, true)
		}},
	}
}
