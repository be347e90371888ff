package authtest

import (
	"context"
	"errors"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

var errBoom = errors.New("authtest: boom")

// writeEverything makes one write of every kind through ctx and returns
// checks that report whether each is visible through the store.
func (e *env) writeEverything(ctx context.Context, owner auth.User) map[string]func() bool {
	e.t.Helper()
	s := e.s
	u := e.newUser("txuser", auth.RoleUser)
	e.must(s.CreateUser(ctx, u))
	a := auth.Agent{OwnerID: owner.ID, AgentID: "txagent", Name: "tx", Channel: "stable", CreatedAt: e.now, UpdatedAt: e.now}
	e.must(s.CreateAgent(ctx, a, 0))
	c := e.newCred(owner.ID, auth.KindSession)
	_, err := s.CreateCredential(ctx, c, auth.Limit{})
	e.must(err)
	cl := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: owner.ID, Hash: hashOf("tx-claim"), CreatedAt: e.now, ExpiresAt: e.at(time.Hour)}
	e.must(s.CreateClaimCode(ctx, cl, 0))
	_, err = s.UpdateUser(ctx, owner.ID, auth.UserPatch{BumpGeneration: true})
	e.must(err)
	_, err = s.RecordLoginFailure(ctx, owner.ID)
	e.must(err)
	e.must(s.AcceptTOTPStep(ctx, owner.ID, 42))
	e.must(s.ReplaceRecoveryCodes(ctx, owner.ID, []auth.Hash{hashOf("tx-rc")}))
	e.must(s.DenyJTI(ctx, "tx-jti", owner.ID, e.at(time.Hour)))
	_, err = s.LoadOrStoreSecret(ctx, "tx-secret", []byte("v"))
	e.must(err)
	// Reads inside the transaction see its writes.
	if _, err := s.UserByID(ctx, u.ID); err != nil {
		e.t.Fatalf("reading a user created in the same transaction: %v", err)
	}
	if _, err := s.CredentialByHash(ctx, c.Hash); err != nil {
		e.t.Fatalf("reading a credential created in the same transaction: %v", err)
	}
	bg := context.Background()
	return map[string]func() bool{
		"user":   func() bool { _, err := s.UserByID(bg, u.ID); return err == nil },
		"agent":  func() bool { _, err := s.Agent(bg, owner.ID, "txagent"); return err == nil },
		"cred":   func() bool { _, err := s.CredentialByHash(bg, c.Hash); return err == nil },
		"claim":  func() bool { _, err := s.ClaimCodeByHash(bg, cl.Hash); return err == nil },
		"update": func() bool { x, _ := s.UserByID(bg, owner.ID); return x.Generation == owner.Generation+1 },
		"fail":   func() bool { x, _ := s.UserByID(bg, owner.ID); return x.FailedLogins == 1 },
		"totp":   func() bool { x, _ := s.UserByID(bg, owner.ID); return x.TOTPLastStep == 42 },
		"rc":     func() bool { n, _ := s.CountRecoveryCodes(bg, owner.ID); return n == 1 },
		"jti":    func() bool { d, _ := s.JTIDenied(bg, "tx-jti"); return d },
		"secret": func() bool {
			v, _ := s.LoadOrStoreSecret(bg, "tx-secret", []byte("outside"))
			return string(v) == "v"
		},
	}
}

func txCases() []testCase {
	return []testCase{
		{"Tx/Commit", func(e *env) {
			owner := e.user("owner", auth.RoleAdmin)
			var checks map[string]func() bool
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				checks = e.writeEverything(ctx, owner)
				return nil
			})
			e.must(err)
			for name, visible := range checks {
				if !visible() {
					e.t.Errorf("%s: not visible after commit", name)
				}
			}
		}},
		{"Tx/RollbackUndoesEveryWrite", func(e *env) {
			owner := e.user("owner", auth.RoleAdmin)
			var checks map[string]func() bool
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				checks = e.writeEverything(ctx, owner)
				return errBoom
			})
			e.is("InTx", err, errBoom)
			for name, visible := range checks {
				if visible() {
					e.t.Errorf("%s: visible after rollback", name)
				}
			}
		}},
		{"Tx/PanicRollsBack", func(e *env) {
			owner := e.user("owner", auth.RoleAdmin)
			var checks map[string]func() bool
			func() {
				defer func() {
					if r := recover(); r != errBoom {
						e.t.Fatalf("recovered %v, want the panic value", r)
					}
				}()
				_ = e.s.InTx(e.ctx, func(ctx context.Context) error {
					checks = e.writeEverything(ctx, owner)
					panic(errBoom)
				})
			}()
			for name, visible := range checks {
				if visible() {
					e.t.Errorf("%s: visible after a panic", name)
				}
			}
			// The store still works.
			e.user("after", auth.RoleUser)
		}},
		{"Tx/NestedJoins", func(e *env) {
			owner := e.user("owner", auth.RoleAdmin)
			var inner error
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				e.must(e.s.CreateUser(ctx, e.newUser("outer", auth.RoleUser)))
				inner = e.s.InTx(ctx, func(ctx context.Context) error {
					e.must(e.s.CreateUser(ctx, e.newUser("inner", auth.RoleUser)))
					return errBoom
				})
				return inner
			})
			e.is("inner InTx", inner, errBoom)
			e.is("outer InTx", err, errBoom)
			for _, n := range []string{"outer", "inner"} {
				_, err := e.s.UserByUsername(e.ctx, n)
				e.is(n+" after rollback", err, auth.ErrNotFound)
			}
			// A joined InTx that succeeds commits with the outer one.
			err = e.s.InTx(e.ctx, func(ctx context.Context) error {
				return e.s.InTx(ctx, func(ctx context.Context) error {
					return e.s.CreateUser(ctx, e.newUser("joined", auth.RoleUser))
				})
			})
			e.must(err)
			_, err = e.s.UserByUsername(e.ctx, "joined")
			e.is("joined commit", err, nil)
			_ = owner
		}},
		{"Tx/SentinelKeepsTxUsable", func(e *env) {
			owner := e.user("owner", auth.RoleAdmin)
			e.agent(owner.ID, "pi")
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				if err := e.s.CreateUser(ctx, e.newUser("owner", auth.RoleUser)); !errors.Is(err, auth.ErrConflict) {
					e.t.Fatalf("duplicate username in a transaction: got %v, want ErrConflict", err)
				}
				a := auth.Agent{OwnerID: owner.ID, AgentID: "pi", Name: "pi", Channel: "stable", CreatedAt: e.now, UpdatedAt: e.now}
				if err := e.s.CreateAgent(ctx, a, 0); !errors.Is(err, auth.ErrConflict) {
					e.t.Fatalf("duplicate agent in a transaction: got %v, want ErrConflict", err)
				}
				c := e.newCred(owner.ID, auth.KindAccount)
				if _, err := e.s.CreateCredential(ctx, c, auth.Limit{}); err != nil {
					e.t.Fatal(err)
				}
				dup := e.newCred(owner.ID, auth.KindAccount)
				dup.Hash = c.Hash
				if _, err := e.s.CreateCredential(ctx, dup, auth.Limit{}); !errors.Is(err, auth.ErrConflict) {
					e.t.Fatalf("duplicate hash in a transaction: got %v, want ErrConflict", err)
				}
				if _, err := e.s.UserByID(ctx, "usr_missing"); !errors.Is(err, auth.ErrNotFound) {
					e.t.Fatalf("missing user in a transaction: got %v, want ErrNotFound", err)
				}
				return e.s.CreateUser(ctx, e.newUser("second", auth.RoleUser))
			})
			e.must(err)
			_, err = e.s.UserByUsername(e.ctx, "second")
			e.is("write after the sentinels", err, nil)
		}},
		{"Tx/AfterCommit", func(e *env) {
			var ran []string
			e.s.AfterCommit(e.ctx, func() { ran = append(ran, "now") })
			e.equal("without a transaction", ran, []string{"now"})
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				e.s.AfterCommit(ctx, func() { ran = append(ran, "commit") })
				e.s.InTx(ctx, func(ctx context.Context) error {
					e.s.AfterCommit(ctx, func() { ran = append(ran, "nested") })
					return nil
				})
				if len(ran) != 1 {
					e.t.Errorf("AfterCommit ran before the commit")
				}
				return nil
			})
			e.must(err)
			e.equal("after commit", ran, []string{"now", "commit", "nested"})
			_ = e.s.InTx(e.ctx, func(ctx context.Context) error {
				e.s.AfterCommit(ctx, func() { ran = append(ran, "rolled back") })
				return errBoom
			})
			e.equal("after rollback", ran, []string{"now", "commit", "nested"})
		}},
		{"Tx/Concurrent", func(e *env) {
			owner := e.user("owner", auth.RoleAdmin)
			// Concurrent transactions that each read-modify-write one counter
			// through the store lose no update.
			errs := race(20, func(int) error {
				return e.s.InTx(e.ctx, func(ctx context.Context) error {
					_, err := e.s.RecordLoginFailure(ctx, owner.ID)
					if err != nil {
						return err
					}
					_, err = e.s.UpdateUser(ctx, owner.ID, auth.UserPatch{BumpGeneration: true})
					return err
				})
			})
			e.tally("InTx", errs, nil)
			u, err := e.s.UserByID(e.ctx, owner.ID)
			e.must(err)
			e.equal("failures", u.FailedLogins, 20)
			e.equal("generation", u.Generation, int64(20))
		}},
	}
}
