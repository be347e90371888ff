package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestDefaultPasswordParamsMeetTheMinimum(t *testing.T) {
	p := DefaultPasswordParams()
	if p.Memory < 19*1024 || p.Time < 2 || p.Threads < 1 {
		t.Fatalf("DefaultPasswordParams() = %+v, below 19 MiB / t=2 / p=1", p)
	}
	if MinPasswordMemory != 19456 || MinPasswordTime != 2 || MinPasswordThreads != 1 {
		t.Fatal("the minimum constants changed")
	}
}

func TestHashRoundTrip(t *testing.T) {
	h := newHasher(PasswordParams{Memory: 64, Time: 1, Threads: 1}, 2, rand.Reader)
	ctx := context.Background()
	enc, err := h.hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoding %q", enc)
	}
	ok, rehash, err := h.verify(ctx, "correct horse", enc)
	if !ok || rehash || err != nil {
		t.Fatalf("verify right password: %v %v %v", ok, rehash, err)
	}
	ok, _, err = h.verify(ctx, "correct horsf", enc)
	if ok || err != nil {
		t.Fatalf("verify wrong password: %v %v", ok, err)
	}
	stronger := newHasher(PasswordParams{Memory: 128, Time: 1, Threads: 1}, 2, rand.Reader)
	ok, rehash, _ = stronger.verify(ctx, "correct horse", enc)
	if !ok || !rehash {
		t.Fatalf("verify with raised parameters: ok=%v rehash=%v, want both", ok, rehash)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=9999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA"} {
		if _, _, err := h.verify(ctx, "x", bad); !errors.Is(err, errBadHash) {
			t.Errorf("verify(%q): got %v, want errBadHash", bad, err)
		}
	}
}

func TestHashConcurrencyCap(t *testing.T) {
	h := newHasher(PasswordParams{Memory: 64, Time: 1, Threads: 1}, 1, rand.Reader)
	h.sem <- struct{}{} // the one slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.hash(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hash with no free slot: got %v, want the context's error", err)
	}
	<-h.sem
	if _, err := h.hash(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
}

func TestPolicy(t *testing.T) {
	p := newPolicy(8, []string{"Password1", "letmein123"})
	tests := []struct {
		pw, user string
		reasons  []string
	}{
		{"correct horse", "alice", nil},
		{"short", "alice", []string{ReasonTooShort}},
		{"PASSWORD1", "alice", []string{ReasonCommon}},
		{"xxalice-xx", "alice", []string{ReasonContainsUsername}},
		{"ALICE", "alice", []string{ReasonTooShort, ReasonContainsUsername}},
		{strings.Repeat("é", 128), "alice", nil},
		{strings.Repeat("é", 129), "alice", []string{ReasonTooLong}},
		{"ééééééé", "alice", []string{ReasonTooShort}}, // 7 characters, 14 bytes
	}
	for _, tt := range tests {
		err := p.check("password", tt.pw, tt.user)
		if tt.reasons == nil {
			if err != nil {
				t.Errorf("check(%q): %v", tt.pw, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != CodePasswordTooWeak || strings.Join(e.Reasons, ",") != strings.Join(tt.reasons, ",") {
			t.Errorf("check(%q): got %v, want reasons %v", tt.pw, err, tt.reasons)
		}
	}
	if err := p.check("password", "bad\xffutf8 password", "alice"); !errors.Is(err, ErrValidationFailed) {
		t.Errorf("invalid UTF-8: got %v", err)
	}
}

func TestCacheInvalidation(t *testing.T) {
	c := newCache(3, time.Minute)
	now := time.Unix(1000, 0)
	h := func(b byte) Hash { return Hash{b} }
	ep := c.begin()
	c.put(h(1), &cacheEntry{p: Principal{UserID: "u1"}, fetched: now}, ep)
	c.put(h(2), &cacheEntry{p: Principal{UserID: "u2"}, fetched: now}, ep)
	if c.get(h(1), now) == nil || c.get(h(2), now) == nil {
		t.Fatal("entries missing")
	}
	if c.get(h(1), now.Add(time.Minute)) != nil {
		t.Fatal("an entry outlived the TTL")
	}
	// A load that began before an invalidation is not cached.
	stale := c.begin()
	c.invalidateUser("u1")
	if c.get(h(1), now) != nil || c.get(h(2), now) == nil {
		t.Fatal("invalidateUser dropped the wrong entries")
	}
	c.put(h(1), &cacheEntry{p: Principal{UserID: "u1"}, fetched: now}, stale)
	if c.get(h(1), now) != nil {
		t.Fatal("a load from before the invalidation was cached")
	}
	// Bounded.
	ep = c.begin()
	for b := byte(10); b < 20; b++ {
		c.put(h(b), &cacheEntry{p: Principal{UserID: "u"}, fetched: now}, ep)
	}
	if c.len() > 3 {
		t.Fatalf("cache holds %d entries, max 3", c.len())
	}
	c.invalidateAll()
	if c.len() != 0 || len(c.byUser) != 0 {
		t.Fatal("invalidateAll left entries")
	}
	var nilCache *cache // disabled cache: every method is a no-op
	nilCache.put(h(1), &cacheEntry{}, nilCache.begin())
	nilCache.invalidateUser("u")
	if nilCache.get(h(1), now) != nil {
		t.Fatal("a nil cache returned an entry")
	}
}

func TestLimiterTable(t *testing.T) {
	lt := newLimiterTable(rate.Every(6*time.Second), 2, 4)
	now := time.Unix(1000, 0)
	for i := range 2 {
		if ok, _ := lt.allow("a", now); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	ok, d := lt.allow("a", now)
	if ok || d <= 0 || d > 6*time.Second {
		t.Fatalf("third attempt: ok=%v wait=%v", ok, d)
	}
	if ok, _ := lt.allow("a", now.Add(6*time.Second)); !ok {
		t.Fatal("refused after the refill")
	}
	for i := range 100 {
		lt.allow(string(rune('b'+i)), now)
	}
	if len(lt.m) > 4 {
		t.Fatalf("limiter table holds %d keys, max 4", len(lt.m))
	}
	if e := rateLimited("login", 10, 200*time.Millisecond); e.RetryAfter != time.Second || e.Scope != "login" {
		t.Fatalf("rateLimited: %+v", e)
	}
}

func TestIPKey(t *testing.T) {
	a, _ := ipKey(netip.MustParseAddr("2001:db8::1"))
	b, _ := ipKey(netip.MustParseAddr("2001:db8::ffff:1"))
	c, _ := ipKey(netip.MustParseAddr("2001:db8:0:1::1"))
	if a != b || a == c {
		t.Errorf("IPv6 keys: %q %q %q (want one /64 each)", a, b, c)
	}
	v4, _ := ipKey(netip.MustParseAddr("192.0.2.1"))
	mapped, _ := ipKey(netip.MustParseAddr("::ffff:192.0.2.1"))
	if v4 != mapped {
		t.Errorf("IPv4-mapped: %q != %q", mapped, v4)
	}
	if _, ok := ipKey(netip.Addr{}); ok {
		t.Error("the zero Addr is limited")
	}
}
