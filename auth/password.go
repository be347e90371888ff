package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id parameters new password hashes use.
// Hashes carry their parameters (PHC string format), so raising them later
// rehashes each password at its owner's next successful login.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// The minimum argon2id parameters (OWASP's 19 MiB / t=2 / p=1), which
// DefaultPasswordParams meets. Lower values are accepted by New for tests
// only.
const (
	MinPasswordMemory  = 19 * 1024
	MinPasswordTime    = 2
	MinPasswordThreads = 1
)

// Password length bounds in characters (API.md §3.1).
const (
	DefaultPasswordMinLength = 8
	MaxPasswordLength        = 128
	// maxPasswordBytes bounds the bytes hashed: 128 characters of at most
	// 4 bytes each.
	maxPasswordBytes = 4 * MaxPasswordLength
)

const (
	saltLen = 16
	keyLen  = 32
	// Bounds on the parameters of a stored hash (it may come from a restored
	// snapshot): enough for any sane configuration, small enough that a
	// crafted hash cannot exhaust memory or CPU.
	maxStoredMemory  = 1 << 20 // 1 GiB in KiB
	maxStoredTime    = 64
	maxStoredThreads = 64
)

// DefaultPasswordParams returns 19 MiB, t=2, p=1.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: MinPasswordMemory, Time: MinPasswordTime, Threads: MinPasswordThreads}
}

// hasher hashes and verifies passwords with at most cap(sem) argon2id
// computations at a time.
type hasher struct {
	params PasswordParams
	sem    chan struct{}
	rand   io.Reader

	dummyOnce sync.Once
	dummy     string
	dummyErr  error

	runs atomic.Int64 // argon2id computations, for tests
}

func newHasher(p PasswordParams, concurrency int, r io.Reader) *hasher {
	return &hasher{params: p, sem: make(chan struct{}, concurrency), rand: r}
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns the PHC-encoded argon2id hash of pw with fresh salt.
func (h *hasher) hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("auth: reading randomness: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, h.params.Time, h.params.Memory, h.params.Threads, keyLen)
	h.release()
	h.runs.Add(1)
	return encodeHash(h.params, salt, key), nil
}

func encodeHash(p PasswordParams, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// errBadHash reports a stored hash that cannot be parsed.
var errBadHash = errors.New("auth: malformed password hash")

// decodeHash parses a PHC argon2id string, within bounds.
func decodeHash(s string) (p PasswordParams, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(s) > 512 || len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return p, nil, nil, errBadHash
	}
	var seen int
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, errBadHash
		}
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil || n == 0 {
			return p, nil, nil, errBadHash
		}
		var bit int
		switch {
		case k == "m" && n <= maxStoredMemory:
			p.Memory, bit = uint32(n), 1
		case k == "t" && n <= maxStoredTime:
			p.Time, bit = uint32(n), 2
		case k == "p" && n <= maxStoredThreads:
			p.Threads, bit = uint8(n), 4
		}
		if bit == 0 || seen&bit != 0 { // unknown, out of bounds or repeated
			return p, nil, nil, errBadHash
		}
		seen |= bit
	}
	if seen != 7 || p.Memory < 8*uint32(p.Threads) {
		return p, nil, nil, errBadHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, errBadHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// verify checks pw against an encoded hash in constant time. rehash is true
// when the hash's parameters differ from the configured ones.
func (h *hasher) verify(ctx context.Context, pw, encoded string) (ok, rehash bool, err error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	h.release()
	h.runs.Add(1)
	return subtle.ConstantTimeCompare(got, key) == 1, p != h.params, nil
}

// burn does the work of one verification against a hash made with the
// configured parameters, for unknown users: a login for a name that does
// not exist costs the same argon2id work as one that does.
func (h *hasher) burn(ctx context.Context, pw string) error {
	h.dummyOnce.Do(func() {
		h.dummy, h.dummyErr = h.hash(context.Background(), "wakelink-dummy-password")
	})
	if h.dummyErr != nil {
		return h.dummyErr
	}
	_, _, err := h.verify(ctx, pw, h.dummy)
	return err
}

// Password-policy reasons of PASSWORD_TOO_WEAK.
const (
	ReasonTooShort         = "too_short"
	ReasonTooLong          = "too_long"
	ReasonCommon           = "common"
	ReasonContainsUsername = "contains_username"
)

// policy is the password policy of API.md §3.1: length in characters,
// the common-password list (compared lower-cased), the username. No
// composition rules.
type policy struct {
	minLen int
	common map[string]struct{}
}

func newPolicy(minLen int, common []string) *policy {
	p := &policy{minLen: minLen, common: make(map[string]struct{}, len(common))}
	for _, c := range common {
		p.common[strings.ToLower(c)] = struct{}{}
	}
	return p
}

// check returns nil, VALIDATION_FAILED (not UTF-8), or PASSWORD_TOO_WEAK
// with its reasons. field names the input ("password", "new_password").
func (p *policy) check(field, pw, username string) error {
	if !utf8.ValidString(pw) {
		return invalid(FieldError{Field: field, Rule: "utf8"})
	}
	var reasons []string
	n := utf8.RuneCountInString(pw)
	if n < p.minLen {
		reasons = append(reasons, ReasonTooShort)
	}
	if n > MaxPasswordLength {
		reasons = append(reasons, ReasonTooLong)
	}
	lower := strings.ToLower(pw)
	if n <= MaxPasswordLength {
		if _, ok := p.common[lower]; ok {
			reasons = append(reasons, ReasonCommon)
		}
	}
	if username != "" && strings.Contains(lower, strings.ToLower(username)) {
		reasons = append(reasons, ReasonContainsUsername)
	}
	if len(reasons) > 0 {
		e := fail(ErrPasswordTooWeak)
		e.Reasons = reasons
		return e
	}
	return nil
}
