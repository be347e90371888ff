package consoletest

import (
	"context"
	"errors"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func maintenanceCases() []testCase {
	return []testCase{
		{"Purge", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			for i, at := range []time.Time{e.at(-48 * time.Hour), e.at(-25 * time.Hour), e.now} {
				_, err := e.s.ClaimIdempotency(e.ctx, console.IdempotencyRecord{UserID: u.ID, Key: string(rune('a' + i)),
					CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)})
				e.must(err)
			}
			for _, at := range []time.Time{e.at(-400 * 24 * time.Hour), e.at(-time.Hour)} {
				e.must(e.s.AppendAudit(e.ctx, console.AuditRecord{ID: e.id("aud_"), At: at, ActorKind: console.ActorSystem, Action: "x", Result: "success"}))
			}
			n, err := e.s.Purge(e.ctx, time.Time{}, time.Time{})
			e.must(err)
			e.equal("Purge with zero times", n, 0)
			n, err = e.s.Purge(e.ctx, e.now, e.at(-365*24*time.Hour))
			e.must(err)
			e.equal("rows purged", n, 3)
			_, total, err := e.s.ListAudit(e.ctx, console.AuditQuery{Limit: 10})
			e.must(err)
			e.equal("audit rows kept", total, 1)
			_, err = e.s.ClaimIdempotency(e.ctx, console.IdempotencyRecord{UserID: u.ID, Key: "c", CreatedAt: e.now, ExpiresAt: e.at(time.Hour)})
			e.is("the live record is kept", err, console.ErrStoreConflict)
		}},
		{"Reset", func(e *env) {
			secret, err := e.a.LoadOrStoreSecret(e.ctx, "jwt_hs256_key", []byte("0123456789abcdef0123456789abcdef"))
			e.must(err)
			u := e.user("alice", auth.RoleAdmin)
			e.agent(u.ID, "pi", "pi", "", e.now)
			_, err = e.a.CreateCredential(e.ctx, auth.Credential{ID: e.id(auth.PrefixSession), Kind: auth.KindSession,
				Hash: [32]byte{1}, UserID: u.ID, CreatedAt: e.now}, auth.Limit{})
			e.must(err)
			e.must(e.a.DenyJTI(e.ctx, "jti", u.ID, e.at(time.Hour)))
			e.must(e.a.ReplaceRecoveryCodes(e.ctx, u.ID, []auth.Hash{{2}}))
			e.must(e.a.CreateClaimCode(e.ctx, auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: [32]byte{3},
				CreatedAt: e.now, ExpiresAt: e.at(time.Hour)}, 0))
			_, err = e.s.InitSettings(e.ctx, console.DefaultSettings())
			e.must(err)
			e.must(e.s.PutUISettings(e.ctx, u.ID, console.DefaultUISettings()))
			e.must(e.s.AppendAudit(e.ctx, console.AuditRecord{ID: e.id("aud_"), At: e.now, ActorKind: console.ActorSystem, Action: "x", Result: "success"}))
			_, err = e.s.ClaimIdempotency(e.ctx, console.IdempotencyRecord{UserID: u.ID, Key: "k", CreatedAt: e.now, ExpiresAt: e.at(time.Hour)})
			e.must(err)

			e.must(e.s.Reset(e.ctx))
			has, err := e.a.HasUsers(e.ctx)
			e.must(err)
			e.equal("users after Reset", has, false)
			_, err = e.a.CredentialByHash(e.ctx, [32]byte{1})
			e.is("credential after Reset", err, auth.ErrNotFound)
			denied, err := e.a.JTIDenied(e.ctx, "jti")
			e.must(err)
			e.equal("denylist after Reset", denied, false)
			_, err = e.a.ClaimCodeByHash(e.ctx, [32]byte{3})
			e.is("claim code after Reset", err, auth.ErrNotFound)
			_, err = e.s.Settings(e.ctx, console.DefaultSettings())
			e.is("settings after Reset", err, console.ErrStoreNotFound)
			_, total, err := e.s.ListAudit(e.ctx, console.AuditQuery{Limit: 1})
			e.must(err)
			e.equal("audit after Reset", total, 0)
			rows, _, err := e.s.ListAgents(e.ctx, console.AgentQuery{Limit: 10})
			e.must(err)
			e.equal("agents after Reset", len(rows), 0)
			kept, err := e.a.LoadOrStoreSecret(e.ctx, "jwt_hs256_key", []byte("another key, another key, 32 by"))
			e.must(err)
			e.equal("the JWT key survives Reset", kept, secret)
			// The database works as at first start.
			e.user("alice", auth.RoleAdmin)
		}},
		{"InsertUsers", func(e *env) {
			mk := func(name string) auth.User {
				return auth.User{ID: e.id(auth.PrefixUser), Username: name, Role: auth.RoleUser, PasswordHash: "$argon2id$x",
					AgentsLimit: 0, CreatedAt: e.now}
			}
			us := []auth.User{mk("seed-1"), mk("seed-2")}
			e.must(e.s.InsertUsers(e.ctx, us))
			for _, u := range us {
				got, err := e.a.UserByID(e.ctx, u.ID)
				e.must(err)
				e.equal("seeded user", got, u)
			}
			err := e.s.InsertUsers(e.ctx, []auth.User{mk("seed-3"), mk("SEED-1")})
			e.is("InsertUsers with a taken username", err, console.ErrStoreConflict)
			_, err = e.a.UserByUsername(e.ctx, "seed-3")
			e.is("nothing of a refused batch is inserted", err, auth.ErrNotFound)
		}},
		{"Health", func(e *env) {
			e.must(e.s.Ping(e.ctx))
			if e.s.Engine() == "" {
				e.t.Fatal("Engine is empty")
			}
			for _, tc := range []struct {
				err  error
				want bool
			}{
				{nil, false},
				{errors.New("constraint failed"), false},
				{console.ErrStoreNotFound, false},
				{context.DeadlineExceeded, true},
			} {
				e.equal("Unavailable("+errString(tc.err)+")", e.s.Unavailable(tc.err), tc.want)
			}
		}},
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
