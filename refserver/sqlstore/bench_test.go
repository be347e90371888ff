package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
)

// benchEngines runs fn against a fresh store of each engine (PostgreSQL
// only when WAKELINK_TEST_POSTGRES_DSN is set).
func benchEngines(b *testing.B, fn func(b *testing.B, s *sqlstore.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlstore.Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		fn(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		db := newPostgresDB(b)
		s := db.open(b)
		defer s.Close()
		fn(b, s)
	})
}

// BenchmarkStore measures single store operations outside transactions.
func BenchmarkStore(b *testing.B) {
	benchEngines(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		st := s.Auth()
		now := time.Now().UTC().Truncate(time.Millisecond)
		u := auth.User{ID: "usr_bench", Username: "bench", Role: auth.RoleAdmin, PasswordHash: "x", AgentsLimit: auth.AgentsLimitDefault, CreatedAt: now}
		if err := st.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
		var seq atomic.Int64
		newCred := func() auth.Credential {
			id := fmt.Sprintf("ses_%026d", seq.Add(1))
			return auth.Credential{ID: id, Kind: auth.KindSession, Hash: sha256.Sum256([]byte(id)), UserID: u.ID,
				CreatedVia: auth.ViaPassword, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		}
		known := newCred()
		if _, err := st.CreateCredential(ctx, known, auth.Limit{}); err != nil {
			b.Fatal(err)
		}
		b.Run("CredentialByHash", func(b *testing.B) {
			for b.Loop() {
				if _, err := st.CredentialByHash(ctx, known.Hash); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("UserByID", func(b *testing.B) {
			for b.Loop() {
				if _, err := st.UserByID(ctx, u.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("CreateCredential", func(b *testing.B) {
			for b.Loop() {
				if _, err := st.CreateCredential(ctx, newCred(), auth.Limit{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("CreateSessionCapped", func(b *testing.B) {
			// The session cap: lock the user, count the pool, evict, insert.
			lim := auth.Limit{Max: 50, Vias: []auth.CreatedVia{auth.ViaPassword, auth.ViaAPIToken}, Evict: true}
			for b.Loop() {
				if _, err := st.CreateCredential(ctx, newCred(), lim); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("InTx2Writes", func(b *testing.B) {
			for b.Loop() {
				err := s.InTx(ctx, func(ctx context.Context) error {
					if _, err := st.RecordLoginFailure(ctx, u.ID); err != nil {
						return err
					}
					_, err := st.UpdateUser(ctx, u.ID, auth.UserPatch{BumpGeneration: true})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("CreateAndConsumeClaim", func(b *testing.B) {
			for b.Loop() {
				id := fmt.Sprintf("clm_%026d", seq.Add(1))
				c := auth.ClaimCode{ID: id, OwnerID: u.ID, Hash: sha256.Sum256([]byte(id)), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := st.CreateClaimCode(ctx, c, 0); err != nil {
					b.Fatal(err)
				}
				if _, err := st.ConsumeClaimCode(ctx, c.Hash, "install-0123456789", now); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkServiceOverStore measures auth.Service on each engine: a cache
// miss (what every node pays once per credential and CacheTTL) and a hit.
func BenchmarkServiceOverStore(b *testing.B) {
	benchEngines(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		svc := newService(b, s.Auth(), nil)
		nocache := newService(b, s.Auth(), func(c *auth.Config) { c.CacheSize = -1 })
		res, err := svc.Setup(ctx, auth.NewAccount{Username: "admin", Password: "correct horse battery"})
		if err != nil {
			b.Fatal(err)
		}
		agent, err := svc.CreateAgent(ctx, res.User.ID, auth.AgentSpec{Name: "pi"})
		if err != nil {
			b.Fatal(err)
		}
		all := auth.Kinds(auth.KindJWT, auth.KindAccount, auth.KindSession, auth.KindDevice)
		for _, bc := range []struct {
			name string
			svc  *auth.Service
			tok  auth.Token
		}{
			{"Authenticate/wld/miss", nocache, agent.DeviceToken},
			{"Authenticate/jwt/miss", nocache, res.Access.Token},
			{"Authenticate/wld/hit", svc, agent.DeviceToken},
		} {
			b.Run(bc.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := bc.svc.Authenticate(ctx, bc.tok, all); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run("CreateAgent+DeleteAgent", func(b *testing.B) {
			set := svc.Settings()
			set.AgentsPerAccount = 0
			svc.SetSettings(set)
			for b.Loop() {
				a, err := svc.CreateAgent(ctx, res.User.ID, auth.AgentSpec{Name: "x"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := svc.DeleteAgent(ctx, res.User.ID, a.Agent.AgentID); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
