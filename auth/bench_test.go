package auth_test

import (
	"context"
	"crypto/sha256"
	"runtime"
	"testing"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/auth/authtest"
)

// benchService returns a Service over a MemStore with the given cache size
// (0: default, -1: none) and real clock, a logged-in admin and a session.
func benchService(b *testing.B, cacheSize int, params auth.PasswordParams) (*auth.Service, *auth.LoginResult, *auth.IssuedSession) {
	b.Helper()
	svc, err := auth.New(authtest.NewMemStore(), auth.Config{CacheSize: cacheSize, Password: params})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	res, err := svc.Setup(ctx, auth.NewAccount{Username: "admin", Password: adminPassword})
	if err != nil {
		b.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, res.Access.Token, auth.Kinds(auth.KindJWT))
	if err != nil {
		b.Fatal(err)
	}
	s, err := svc.CreateSession(ctx, p, auth.SessionRequest{})
	if err != nil {
		b.Fatal(err)
	}
	return svc, res, s
}

var console = auth.Kinds(auth.KindJWT, auth.KindAccount, auth.KindSession)

// BenchmarkAuthenticate measures the verification fast path (goal ≤ 5 µs
// with the cache) and, for comparison, the uncached path over the
// in-memory store (the SQL stores' cost is in refserver/sqlstore).
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		cache int
		tok   func(*auth.LoginResult, *auth.IssuedSession) auth.Token
	}{
		{"opaque=wl/cache", 0, func(r *auth.LoginResult, _ *auth.IssuedSession) auth.Token { return r.APIToken.Token }},
		{"opaque=wls/cache", 0, func(_ *auth.LoginResult, s *auth.IssuedSession) auth.Token { return s.Token }},
		{"jwt/cache", 0, func(r *auth.LoginResult, _ *auth.IssuedSession) auth.Token { return r.Access.Token }},
		{"opaque=wl/nocache-memstore", -1, func(r *auth.LoginResult, _ *auth.IssuedSession) auth.Token { return r.APIToken.Token }},
		{"jwt/nocache-memstore", -1, func(r *auth.LoginResult, _ *auth.IssuedSession) auth.Token { return r.Access.Token }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			svc, res, s := benchService(b, bc.cache, fastParams)
			tok := bc.tok(res, s)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, tok, console); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("opaque=wl/cache/parallel", func(b *testing.B) {
		svc, res, _ := benchService(b, 0, fastParams)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.Authenticate(ctx, res.APIToken.Token, console); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkBaselineSHA256 is the reference the fast path is compared to
// in BENCHMARKS.md: one SHA-256 of a 68-byte token, which a cache hit
// includes.
func BenchmarkBaselineSHA256(b *testing.B) {
	raw := []byte("wld_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		sha256.Sum256(raw)
	}
}

func BenchmarkParseToken(b *testing.B) {
	raw := "wld_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.ParseToken(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogin measures a password login with the default argon2id
// parameters (19 MiB, t=2, p=1): one at a time, and from many goroutines,
// where hashing is capped at GOMAXPROCS concurrent computations.
func BenchmarkLogin(b *testing.B) {
	ctx := context.Background()
	svc, _, _ := benchService(b, 0, auth.DefaultPasswordParams())
	req := auth.LoginRequest{Username: "admin", Password: adminPassword}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := svc.Login(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4) // 4×GOMAXPROCS goroutines, at most GOMAXPROCS hashing
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.Login(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "hash-slots")
	})
	b.Run("unknown-user", func(b *testing.B) {
		bad := auth.LoginRequest{Username: "nobody", Password: adminPassword}
		svc.Login(ctx, bad) // makes the dummy hash
		for b.Loop() {
			svc.Login(ctx, bad)
		}
	})
}

// TestAuthenticateCachedIsCheap guards the fast path's allocations: one,
// the byte copy of the token that SHA-256 reads.
func TestAuthenticateCachedIsCheap(t *testing.T) {
	f := newFixture(t)
	res := f.setup()
	f.mustAuth(res.APIToken.Token)
	f.mustAuth(res.Access.Token)
	for name, tok := range map[string]auth.Token{"wl_": res.APIToken.Token, "jwt": res.Access.Token} {
		n := testing.AllocsPerRun(200, func() {
			f.svc.Authenticate(f.ctx, tok, console)
		})
		if n > 1 {
			t.Errorf("cached Authenticate(%s) allocates %v times per call, want at most 1", name, n)
		}
	}
}
