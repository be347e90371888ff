package console

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"sync"
)

// MaxIdempotencyKeyLen bounds an Idempotency-Key (API.md §1.7: 1-64 of
// [A-Za-z0-9_-]).
const MaxIdempotencyKeyLen = 64

// Idempotency is the Idempotency-Key of an Idem request (API.md §1.7) with
// the fingerprint of the request it names. The zero value means no key:
// the request runs normally.
type Idempotency struct {
	// Key is the header's value.
	Key string
	// Fingerprint is RequestFingerprint(method, path, body) of the
	// request, computed by the REST layer (MCP tools use their tool name
	// as the path).
	Fingerprint [32]byte
}

// RequestFingerprint is the SHA-256 over the method, the path (as routed,
// without query) and the SHA-256 of the exact body bytes: what makes two
// requests with one key "the same request".
func RequestFingerprint(method, path string, body []byte) [32]byte {
	bh := sha256.Sum256(body)
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(bh[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > MaxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// inflight is the set of (user, key) whose first request runs on this
// node: a concurrent second one answers IDEMPOTENCY_KEY_REUSED at once
// (another node's second request waits for the first's transaction and
// then replays it). Bounded by the requests in progress.
type inflight struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func (f *inflight) begin(k string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, busy := f.m[k]; busy {
		return false
	}
	if f.m == nil {
		f.m = make(map[string]struct{})
	}
	f.m[k] = struct{}{}
	return true
}

func (f *inflight) end(k string) {
	f.mu.Lock()
	delete(f.m, k)
	f.mu.Unlock()
}

// idempotent runs fn in one transaction of s's store. With a key, the
// record is claimed first in that transaction and completed with fn's
// result (redacted: no one-time secrets) before it commits; a request
// repeating a completed one gets the stored result back with replayed true
// (fn does not run, nothing is written, and the caller must not notify);
// the same key for another request, or while the first still runs,
// answers IDEMPOTENCY_KEY_REUSED.
func idempotent[T any](s *Service, ctx context.Context, c Caller, idem Idempotency, op string,
	fn func(ctx context.Context) (*T, error), redact func(T) T) (res *T, replayed bool, err error) {
	if idem.Key == "" {
		err = s.store.InTx(ctx, func(ctx context.Context) error {
			r, err := fn(ctx)
			res = r
			return err
		})
		if err != nil {
			return nil, false, s.wrap(op, err)
		}
		return res, false, nil
	}
	if !validIdempotencyKey(idem.Key) {
		return nil, false, invalid(FieldError{Field: "Idempotency-Key", Rule: "pattern", Param: "^[A-Za-z0-9_-]{1,64}$"})
	}
	flight := c.UserID + "\x00" + idem.Key
	if !s.idem.begin(flight) {
		return nil, false, fail(ErrIdempotencyKeyReused)
	}
	defer s.idem.end(flight)
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		res, replayed = nil, false
		now := s.now()
		prev, err := s.store.ClaimIdempotency(ctx, IdempotencyRecord{
			UserID: c.UserID, Key: idem.Key, Fingerprint: idem.Fingerprint, CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL),
		})
		if errors.Is(err, ErrStoreConflict) {
			if prev.Fingerprint != idem.Fingerprint || prev.Response == nil {
				return fail(ErrIdempotencyKeyReused)
			}
			var t T
			if err := json.Unmarshal(prev.Response, &t); err != nil {
				return err
			}
			res, replayed = &t, true
			return nil
		}
		if err != nil {
			return err
		}
		r, err := fn(ctx)
		if err != nil {
			return err
		}
		b, err := json.Marshal(redact(*r))
		if err != nil {
			return err
		}
		if err := s.store.CompleteIdempotency(ctx, c.UserID, idem.Key, b); err != nil {
			return err
		}
		res = r
		return nil
	})
	if err != nil {
		return nil, false, s.wrap(op, err)
	}
	if replayed {
		s.metrics.replays.Inc()
	}
	return res, replayed, nil
}
