package authtest

import (
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

func userCases() []testCase {
	return []testCase{
		{"User/RoundTrip", func(e *env) {
			u := auth.User{
				ID: e.id(auth.PrefixUser), Username: "alice", Email: "alice@example.org", Role: auth.RoleAdmin,
				Disabled: true, PasswordHash: "$argon2id$v=19$x", Generation: 7, AgentsLimit: 3,
				CreatedAt: e.now, LastLoginAt: e.at(time.Second), FailedLogins: 2, Lockouts: 1, LockedUntil: e.at(time.Hour),
				TOTPSecret: "JBSWY3DPEHPK3PXP", TOTPEnabledAt: e.at(2 * time.Second), TOTPPendingSecret: "PENDING",
				TOTPPendingExpiresAt: e.at(10 * time.Minute), TOTPLastStep: 123456, APITokenHint: "wl_abcd…",
			}
			e.must(e.s.CreateUser(e.ctx, u))
			got, err := e.s.UserByID(e.ctx, u.ID)
			e.must(err)
			e.equal("UserByID", got, u)
			got, err = e.s.UserByUsername(e.ctx, "alice")
			e.must(err)
			e.equal("UserByUsername", got, u)

			z := e.newUser("zed", auth.RoleUser)
			e.must(e.s.CreateUser(e.ctx, z))
			got, err = e.s.UserByID(e.ctx, z.ID)
			e.must(err)
			e.equal("UserByID (zero fields)", got, z)
		}},
		{"User/UsernameUniqueIgnoringCase", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			e.is("CreateUser ALICE", e.s.CreateUser(e.ctx, e.newUser("ALICE", auth.RoleUser)), auth.ErrConflict)
			e.is("CreateUser same id", e.s.CreateUser(e.ctx, auth.User{ID: u.ID, Username: "bob", Role: auth.RoleUser, CreatedAt: e.now}), auth.ErrConflict)
			got, err := e.s.UserByUsername(e.ctx, "AlIcE")
			e.must(err)
			e.equal("UserByUsername(AlIcE).ID", got.ID, u.ID)
		}},
		{"User/NotFound", func(e *env) {
			_, err := e.s.UserByID(e.ctx, "usr_missing")
			e.is("UserByID", err, auth.ErrNotFound)
			_, err = e.s.UserByUsername(e.ctx, "nobody")
			e.is("UserByUsername", err, auth.ErrNotFound)
			_, err = e.s.UpdateUser(e.ctx, "usr_missing", auth.UserPatch{BumpGeneration: true})
			e.is("UpdateUser", err, auth.ErrNotFound)
			e.is("DeleteUser", e.s.DeleteUser(e.ctx, "usr_missing"), auth.ErrNotFound)
			_, err = e.s.RecordLoginFailure(e.ctx, "usr_missing")
			e.is("RecordLoginFailure", err, auth.ErrNotFound)
			e.is("AcceptTOTPStep", e.s.AcceptTOTPStep(e.ctx, "usr_missing", 1), auth.ErrNotFound)
			e.is("ReplaceRecoveryCodes", e.s.ReplaceRecoveryCodes(e.ctx, "usr_missing", nil), auth.ErrNotFound)
		}},
		{"User/FirstUser", func(e *env) {
			has, err := e.s.HasUsers(e.ctx)
			e.must(err)
			e.equal("HasUsers (empty)", has, false)
			e.must(e.s.CreateFirstUser(e.ctx, e.newUser("admin", auth.RoleAdmin)))
			has, err = e.s.HasUsers(e.ctx)
			e.must(err)
			e.equal("HasUsers", has, true)
			e.is("second CreateFirstUser", e.s.CreateFirstUser(e.ctx, e.newUser("other", auth.RoleAdmin)), auth.ErrNotEmpty)
		}},
		{"User/FirstUserConcurrent", func(e *env) {
			errs := race(20, func(i int) error {
				return e.s.CreateFirstUser(e.ctx, e.newUser("admin"+string(rune('a'+i)), auth.RoleAdmin))
			})
			ok, lost := e.tally("CreateFirstUser", errs, auth.ErrNotEmpty)
			e.equal("winners", ok, 1)
			e.equal("losers", lost, 19)
			us, err := e.s.ListUsers(e.ctx, "", 100)
			e.must(err)
			e.equal("users", len(us), 1)
		}},
		{"User/List", func(e *env) {
			var want []string
			for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
				want = append(want, e.user(n+"xx", auth.RoleUser).ID)
			}
			page, err := e.s.ListUsers(e.ctx, "", 2)
			e.must(err)
			e.equal("page 1", userIDs(page), want[:2])
			page, err = e.s.ListUsers(e.ctx, want[1], 10)
			e.must(err)
			e.equal("page 2", userIDs(page), want[2:])
		}},
		{"User/Update", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			e.user("root", auth.RoleAdmin)
			email, role, dis, hash, lim := "a@example.org", auth.RoleAdmin, true, auth.Secret("$new"), 4
			ll, lu, te, tp := e.at(time.Second), e.at(time.Hour), e.at(2*time.Second), e.at(time.Minute)
			fl, lo, step, hint := 3, 2, int64(99), "wl_1234…"
			sec, pend := auth.Secret("SECRET"), auth.Secret("PEND")
			got, err := e.s.UpdateUser(e.ctx, u.ID, auth.UserPatch{
				Email: &email, Role: &role, Disabled: &dis, PasswordHash: &hash, BumpGeneration: true, AgentsLimit: &lim,
				LastLoginAt: &ll, FailedLogins: &fl, Lockouts: &lo, LockedUntil: &lu, TOTPSecret: &sec, TOTPEnabledAt: &te,
				TOTPPendingSecret: &pend, TOTPPendingExpiresAt: &tp, TOTPLastStep: &step, APITokenHint: &hint,
			})
			e.must(err)
			want := u
			want.Email, want.Role, want.Disabled, want.PasswordHash, want.Generation, want.AgentsLimit = email, role, dis, hash, 1, lim
			want.LastLoginAt, want.FailedLogins, want.Lockouts, want.LockedUntil = ll, fl, lo, lu
			want.TOTPSecret, want.TOTPEnabledAt, want.TOTPPendingSecret, want.TOTPPendingExpiresAt = sec, te, pend, tp
			want.TOTPLastStep, want.APITokenHint = step, hint
			e.equal("UpdateUser result", got, want)
			stored, err := e.s.UserByID(e.ctx, u.ID)
			e.must(err)
			e.equal("stored", stored, want)

			// An empty patch changes nothing; BumpGeneration alone bumps.
			got, err = e.s.UpdateUser(e.ctx, u.ID, auth.UserPatch{})
			e.must(err)
			e.equal("empty patch", got, want)
			got, err = e.s.UpdateUser(e.ctx, u.ID, auth.UserPatch{BumpGeneration: true})
			e.must(err)
			e.equal("generation", got.Generation, int64(2))

			// Zero values clear.
			empty, none, zero, def := "", time.Time{}, 0, auth.AgentsLimitDefault
			noSec := auth.Secret("")
			got, err = e.s.UpdateUser(e.ctx, u.ID, auth.UserPatch{Email: &empty, LockedUntil: &none, TOTPSecret: &noSec,
				TOTPEnabledAt: &none, FailedLogins: &zero, AgentsLimit: &def, APITokenHint: &empty})
			e.must(err)
			if got.Email != "" || !got.LockedUntil.IsZero() || got.TOTPSecret != "" || !got.TOTPEnabledAt.IsZero() ||
				got.FailedLogins != 0 || got.AgentsLimit != auth.AgentsLimitDefault || got.APITokenHint != "" {
				e.t.Fatalf("clearing fields: got %+v", got)
			}
		}},
		{"User/LastAdmin", func(e *env) {
			a := e.user("admin", auth.RoleAdmin)
			e.user("plain", auth.RoleUser)
			role, dis := auth.RoleUser, true
			_, err := e.s.UpdateUser(e.ctx, a.ID, auth.UserPatch{Role: &role})
			e.is("demote the last admin", err, auth.ErrNoAdminLeft)
			_, err = e.s.UpdateUser(e.ctx, a.ID, auth.UserPatch{Disabled: &dis})
			e.is("disable the last admin", err, auth.ErrNoAdminLeft)
			e.is("delete the last admin", e.s.DeleteUser(e.ctx, a.ID), auth.ErrNoAdminLeft)
			got, err := e.s.UserByID(e.ctx, a.ID)
			e.must(err)
			e.equal("unchanged role", got.Role, auth.RoleAdmin)
			e.equal("unchanged disabled", got.Disabled, false)

			// A disabled admin does not count.
			b := e.newUser("admin2", auth.RoleAdmin)
			b.Disabled = true
			e.must(e.s.CreateUser(e.ctx, b))
			_, err = e.s.UpdateUser(e.ctx, a.ID, auth.UserPatch{Role: &role})
			e.is("demote with only a disabled admin left", err, auth.ErrNoAdminLeft)

			// Other changes to the last admin are fine.
			step := int64(5)
			_, err = e.s.UpdateUser(e.ctx, a.ID, auth.UserPatch{TOTPLastStep: &step, BumpGeneration: true})
			e.is("unrelated update", err, nil)

			// With another enabled admin it works.
			en := false
			_, err = e.s.UpdateUser(e.ctx, b.ID, auth.UserPatch{Disabled: &en})
			e.must(err)
			_, err = e.s.UpdateUser(e.ctx, a.ID, auth.UserPatch{Role: &role})
			e.is("demote with another admin", err, nil)
			e.is("delete a plain user", e.s.DeleteUser(e.ctx, a.ID), nil)
		}},
		{"User/LastAdminConcurrent", func(e *env) {
			prev := ""
			for round := range 6 {
				a := e.user("a"+string(rune('a'+round))+"min", auth.RoleAdmin)
				b := e.user("b"+string(rune('a'+round))+"min", auth.RoleAdmin)
				role, dis := auth.RoleUser, true
				if prev != "" {
					_, err := e.s.UpdateUser(e.ctx, prev, auth.UserPatch{Role: &role})
					e.must(err)
				}
				pair := []string{a.ID, b.ID}
				errs := race(2, func(i int) error {
					var err error
					switch round % 3 {
					case 0:
						_, err = e.s.UpdateUser(e.ctx, pair[i], auth.UserPatch{Role: &role})
					case 1:
						_, err = e.s.UpdateUser(e.ctx, pair[i], auth.UserPatch{Disabled: &dis})
					default:
						err = e.s.DeleteUser(e.ctx, pair[i])
					}
					return err
				})
				ok, refused := e.tally("removing each other", errs, auth.ErrNoAdminLeft)
				e.equal("winners", ok, 1)
				e.equal("refused", refused, 1)
				prev = pair[0]
				if errs[1] != nil {
					prev = pair[1]
				}
				u, err := e.s.UserByID(e.ctx, prev)
				e.must(err)
				if u.Role != auth.RoleAdmin || u.Disabled {
					e.t.Fatalf("round %d: survivor %+v is not an enabled admin", round, u)
				}
			}
		}},
		{"User/LoginFailures", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			n, err := e.s.RecordLoginFailure(e.ctx, u.ID)
			e.must(err)
			e.equal("first failure", n, 1)
			errs := race(20, func(int) error { _, err := e.s.RecordLoginFailure(e.ctx, u.ID); return err })
			e.tally("RecordLoginFailure", errs, nil)
			got, err := e.s.UserByID(e.ctx, u.ID)
			e.must(err)
			e.equal("failures after 21 increments", got.FailedLogins, 21)
		}},
		{"User/TOTPStep", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			e.is("step 5", e.s.AcceptTOTPStep(e.ctx, u.ID, 5), nil)
			e.is("step 5 again", e.s.AcceptTOTPStep(e.ctx, u.ID, 5), auth.ErrConflict)
			e.is("step 4", e.s.AcceptTOTPStep(e.ctx, u.ID, 4), auth.ErrConflict)
			e.is("step 6", e.s.AcceptTOTPStep(e.ctx, u.ID, 6), nil)
			errs := race(20, func(int) error { return e.s.AcceptTOTPStep(e.ctx, u.ID, 100) })
			ok, dup := e.tally("concurrent step 100", errs, auth.ErrConflict)
			e.equal("accepted", ok, 1)
			e.equal("refused", dup, 19)
			got, err := e.s.UserByID(e.ctx, u.ID)
			e.must(err)
			e.equal("last step", got.TOTPLastStep, int64(100))
		}},
		{"User/RecoveryCodes", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			v := e.user("bob", auth.RoleUser)
			hs := []auth.Hash{hashOf("r1"), hashOf("r2"), hashOf("r3")}
			e.must(e.s.ReplaceRecoveryCodes(e.ctx, u.ID, hs))
			n, err := e.s.CountRecoveryCodes(e.ctx, u.ID)
			e.must(err)
			e.equal("count", n, 3)
			e.is("use r1", e.s.UseRecoveryCode(e.ctx, u.ID, hs[0], e.now), nil)
			e.is("use r1 again", e.s.UseRecoveryCode(e.ctx, u.ID, hs[0], e.now), auth.ErrNotFound)
			e.is("use r2 as bob", e.s.UseRecoveryCode(e.ctx, v.ID, hs[1], e.now), auth.ErrNotFound)
			e.is("use unknown", e.s.UseRecoveryCode(e.ctx, u.ID, hashOf("zz"), e.now), auth.ErrNotFound)
			n, err = e.s.CountRecoveryCodes(e.ctx, u.ID)
			e.must(err)
			e.equal("count after one use", n, 2)

			errs := race(20, func(int) error { return e.s.UseRecoveryCode(e.ctx, u.ID, hs[2], e.now) })
			ok, lost := e.tally("concurrent use", errs, auth.ErrNotFound)
			e.equal("uses", ok, 1)
			e.equal("refused", lost, 19)

			e.must(e.s.ReplaceRecoveryCodes(e.ctx, u.ID, []auth.Hash{hashOf("n1")}))
			e.is("old code after replace", e.s.UseRecoveryCode(e.ctx, u.ID, hs[1], e.now), auth.ErrNotFound)
			n, err = e.s.CountRecoveryCodes(e.ctx, u.ID)
			e.must(err)
			e.equal("count after replace", n, 1)
			e.must(e.s.ReplaceRecoveryCodes(e.ctx, u.ID, nil))
			n, err = e.s.CountRecoveryCodes(e.ctx, u.ID)
			e.must(err)
			e.equal("count after clearing", n, 0)
		}},
		{"User/DeleteCascades", func(e *env) {
			e.user("root", auth.RoleAdmin)
			u := e.user("alice", auth.RoleUser)
			other := e.user("bob", auth.RoleUser)
			e.agent(u.ID, "pi")
			e.agent(other.ID, "pi")
			var uc []auth.Credential
			for _, k := range []auth.Kind{auth.KindAccount, auth.KindSession, auth.KindMCP, auth.KindDownload, auth.KindEventTicket} {
				uc = append(uc, e.cred(u.ID, k))
			}
			dev := e.newCred(u.ID, auth.KindDevice)
			dev.AgentID = "pi"
			_, err := e.s.CreateCredential(e.ctx, dev, auth.Limit{})
			e.must(err)
			uc = append(uc, dev)
			oc := e.cred(other.ID, auth.KindAccount)
			cl := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: u.ID, Hash: hashOf("claim-u"), CreatedAt: e.now, ExpiresAt: e.at(time.Hour)}
			e.must(e.s.CreateClaimCode(e.ctx, cl, 0))
			ocl := auth.ClaimCode{ID: e.id(auth.PrefixClaim), OwnerID: other.ID, Hash: hashOf("claim-o"), CreatedAt: e.now, ExpiresAt: e.at(time.Hour)}
			e.must(e.s.CreateClaimCode(e.ctx, ocl, 0))
			e.must(e.s.ReplaceRecoveryCodes(e.ctx, u.ID, []auth.Hash{hashOf("rc")}))
			e.must(e.s.DenyJTI(e.ctx, "jti-u", u.ID, e.at(time.Hour)))
			e.must(e.s.DenyJTI(e.ctx, "jti-o", other.ID, e.at(time.Hour)))

			e.must(e.s.DeleteUser(e.ctx, u.ID))

			_, err = e.s.UserByID(e.ctx, u.ID)
			e.is("user", err, auth.ErrNotFound)
			_, err = e.s.UserByUsername(e.ctx, "alice")
			e.is("username", err, auth.ErrNotFound)
			for _, c := range uc {
				_, err := e.s.CredentialByHash(e.ctx, c.Hash)
				e.is("credential "+c.Kind.String(), err, auth.ErrNotFound)
			}
			_, err = e.s.Agent(e.ctx, u.ID, "pi")
			e.is("agent", err, auth.ErrNotFound)
			_, err = e.s.ClaimCodeByHash(e.ctx, cl.Hash)
			e.is("claim code", err, auth.ErrNotFound)
			n, err := e.s.CountRecoveryCodes(e.ctx, u.ID)
			e.must(err)
			e.equal("recovery codes", n, 0)
			denied, err := e.s.JTIDenied(e.ctx, "jti-u")
			e.must(err)
			e.equal("denylisted jti", denied, false)

			// The other account is untouched.
			_, err = e.s.Agent(e.ctx, other.ID, "pi")
			e.is("other agent", err, nil)
			_, err = e.s.CredentialByHash(e.ctx, oc.Hash)
			e.is("other credential", err, nil)
			_, err = e.s.ClaimCodeByHash(e.ctx, ocl.Hash)
			e.is("other claim", err, nil)
			denied, err = e.s.JTIDenied(e.ctx, "jti-o")
			e.must(err)
			e.equal("other denylisted jti", denied, true)
			// The username is free again.
			e.is("re-create alice", e.s.CreateUser(e.ctx, e.newUser("alice", auth.RoleUser)), nil)
		}},
		{"Secret/LoadOrStore", func(e *env) {
			v, err := e.s.LoadOrStoreSecret(e.ctx, "k", []byte("first-value"))
			e.must(err)
			e.equal("first", string(v), "first-value")
			v, err = e.s.LoadOrStoreSecret(e.ctx, "k", []byte("second"))
			e.must(err)
			e.equal("second call keeps the first", string(v), "first-value")
			e.must(e.s.PutSecret(e.ctx, "k", []byte("replaced")))
			v, err = e.s.LoadOrStoreSecret(e.ctx, "k", []byte("x"))
			e.must(err)
			e.equal("after Put", string(v), "replaced")

			got := make([]string, 20)
			errs := race(20, func(i int) error {
				v, err := e.s.LoadOrStoreSecret(e.ctx, "race", []byte{byte('a' + i)})
				got[i] = string(v)
				return err
			})
			e.tally("concurrent LoadOrStoreSecret", errs, nil)
			for _, g := range got {
				if g != got[0] {
					e.t.Fatalf("concurrent LoadOrStoreSecret returned different values: %q", got)
				}
			}
		}},
	}
}

func userIDs(us []auth.User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}
