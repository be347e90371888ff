package consoletest

import (
	"context"
	"errors"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func idempotencyCases() []testCase {
	rec := func(e *env, user, key string, fp byte, at time.Time) console.IdempotencyRecord {
		return console.IdempotencyRecord{UserID: user, Key: key, Fingerprint: [32]byte{fp}, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
	}
	return []testCase{
		{"Idempotency/ClaimCompleteConflict", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			r := rec(e, u.ID, "k1", 1, e.now)
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				if _, err := e.s.ClaimIdempotency(ctx, r); err != nil {
					return err
				}
				// The claiming transaction sees its pending record.
				prev, err := e.s.ClaimIdempotency(ctx, rec(e, u.ID, "k1", 2, e.now))
				e.is("second claim in the same transaction", err, console.ErrStoreConflict)
				e.equal("pending record", prev.Response, []byte(nil))
				return e.s.CompleteIdempotency(ctx, u.ID, "k1", []byte(`{"a":1}`))
			})
			e.must(err)
			prev, err := e.s.ClaimIdempotency(e.ctx, rec(e, u.ID, "k1", 9, e.at(time.Hour)))
			e.is("claim of a live key", err, console.ErrStoreConflict)
			want := r
			want.Response = []byte(`{"a":1}`)
			e.equal("the stored record", prev, want)
			// Another user's key of the same name is another record.
			v := e.user("bob", auth.RoleUser)
			_, err = e.s.ClaimIdempotency(e.ctx, rec(e, v.ID, "k1", 1, e.now))
			e.must(err)
			e.is("CompleteIdempotency of an unknown key", e.s.CompleteIdempotency(e.ctx, u.ID, "nope", []byte("{}")), console.ErrStoreNotFound)
		}},
		{"Idempotency/ExpiredIsReplaced", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			_, err := e.s.ClaimIdempotency(e.ctx, rec(e, u.ID, "k", 1, e.now))
			e.must(err)
			e.must(e.s.CompleteIdempotency(e.ctx, u.ID, "k", []byte(`{}`)))
			later := rec(e, u.ID, "k", 2, e.at(24*time.Hour)) // the first expires exactly then
			_, err = e.s.ClaimIdempotency(e.ctx, later)
			e.must(err)
			prev, err := e.s.ClaimIdempotency(e.ctx, rec(e, u.ID, "k", 3, e.at(25*time.Hour)))
			e.is("claim after the replacement", err, console.ErrStoreConflict)
			e.equal("the replacement", prev, later)
		}},
		{"Idempotency/Rollback", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				if _, err := e.s.ClaimIdempotency(ctx, rec(e, u.ID, "k", 1, e.now)); err != nil {
					return err
				}
				e.must(e.s.CompleteIdempotency(ctx, u.ID, "k", []byte(`{}`)))
				return errBoom
			})
			e.is("InTx", err, errBoom)
			_, err = e.s.ClaimIdempotency(e.ctx, rec(e, u.ID, "k", 2, e.now))
			e.is("claim after a rolled-back claim", err, nil)
		}},
		{"Idempotency/ConcurrentClaims", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			const n = 20
			errs := race(n, func(i int) error {
				return e.s.InTx(e.ctx, func(ctx context.Context) error {
					prev, err := e.s.ClaimIdempotency(ctx, rec(e, u.ID, "k", 7, e.now))
					if err != nil {
						if errors.Is(err, console.ErrStoreConflict) && string(prev.Response) != `{"done":true}` {
							return errors.New("a concurrent claim saw a pending record")
						}
						return err
					}
					return e.s.CompleteIdempotency(ctx, u.ID, "k", []byte(`{"done":true}`))
				})
			})
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case errors.Is(err, console.ErrStoreConflict):
				default:
					e.t.Fatalf("concurrent claim: %v", err)
				}
			}
			e.equal("claims that inserted", won, 1)
		}},
		{"Idempotency/DeletedWithUser", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			_, err := e.s.ClaimIdempotency(e.ctx, rec(e, u.ID, "k", 1, e.now))
			e.must(err)
			e.must(e.a.DeleteUser(e.ctx, u.ID))
			e.is("CompleteIdempotency after the user's deletion", e.s.CompleteIdempotency(e.ctx, u.ID, "k", nil), console.ErrStoreNotFound)
		}},
	}
}
