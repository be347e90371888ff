package auth

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Id prefixes of API.md §1.2.
const (
	PrefixUser       = "usr_"
	PrefixSession    = "ses_"
	PrefixClaim      = "clm_"
	PrefixMCP        = "mcp_"
	PrefixCredential = "tok_"
)

// newID returns prefix + a lowercase ULID of t and 80 random bits from r.
func newID(prefix string, t time.Time, r io.Reader) (string, error) {
	id, err := ulid.New(ulid.Timestamp(t), r)
	if err != nil {
		return "", fmt.Errorf("auth: making an id: %w", err)
	}
	return prefix + strings.ToLower(id.String()), nil
}

// Claim codes: 12 characters of Crockford's base32 alphabet (API.md §1.4,
// §3.3), shown XXXX-XXXX-XXXX.
const (
	// ClaimCodeLen is the number of significant characters of a claim code.
	ClaimCodeLen = 12
	// MaxClaimCodeInput bounds the text ParseClaimCode looks at (the
	// openapi.yaml bound of the bind body's code).
	MaxClaimCodeInput = 64
	crockford         = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	crockfordLower    = "0123456789abcdefghjkmnpqrstvwxyz"
)

// ParseClaimCode normalises a claim code as typed by a user: hyphens are
// dropped and letters upper-cased; what remains must be exactly 12
// characters of Crockford's base32 (0-9, A-Z without I, L, O, U), else
// CLAIM_CODE_INVALID. The Token it returns holds the canonical display form
// XXXX-XXXX-XXXX, whose Hash is what stores keep.
func ParseClaimCode(s string) (Token, error) {
	if len(s) > MaxClaimCodeInput {
		return Token{}, fail(ErrClaimCodeInvalid)
	}
	var b [ClaimCodeLen]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' {
			continue
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if strings.IndexByte(crockford, c) < 0 || n == ClaimCodeLen {
			return Token{}, fail(ErrClaimCodeInvalid)
		}
		b[n] = c
		n++
	}
	if n != ClaimCodeLen {
		return Token{}, fail(ErrClaimCodeInvalid)
	}
	return Token{kind: KindClaimCode, raw: displayClaimCode(b)}, nil
}

func displayClaimCode(b [ClaimCodeLen]byte) string {
	return string(b[0:4]) + "-" + string(b[4:8]) + "-" + string(b[8:12])
}

// newClaimCode draws a claim code (60 random bits) from r.
func newClaimCode(r io.Reader) (Token, error) {
	var rnd [ClaimCodeLen]byte
	if _, err := io.ReadFull(r, rnd[:]); err != nil {
		return Token{}, fmt.Errorf("auth: reading randomness: %w", err)
	}
	var b [ClaimCodeLen]byte
	for i, x := range rnd {
		b[i] = crockford[x&31] // 256 is a multiple of 32: uniform
	}
	return Token{kind: KindClaimCode, raw: displayClaimCode(b)}, nil
}

// Recovery codes: 8 characters of lowercase Crockford base32 (40 bits),
// shown xxxx-xxxx.
const (
	// RecoveryCodeCount is the number of recovery codes of a set.
	RecoveryCodeCount = 10
	recoveryCodeLen   = 8
)

// newRecoveryCode draws a recovery code from r.
func newRecoveryCode(r io.Reader) (Token, error) {
	var rnd [recoveryCodeLen]byte
	if _, err := io.ReadFull(r, rnd[:]); err != nil {
		return Token{}, fmt.Errorf("auth: reading randomness: %w", err)
	}
	var b [recoveryCodeLen + 1]byte
	j := 0
	for i, x := range rnd {
		if i == 4 {
			b[j] = '-'
			j++
		}
		b[j] = crockfordLower[x&31]
		j++
	}
	return Token{kind: KindRecoveryCode, raw: string(b[:])}, nil
}

// normalizeRecoveryCode returns the canonical xxxx-xxxx form of a typed
// recovery code (case-insensitive, hyphen optional), or false.
func normalizeRecoveryCode(s string) (string, bool) {
	if len(s) > 32 {
		return "", false
	}
	var b [recoveryCodeLen + 1]byte
	n, j := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' {
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if strings.IndexByte(crockfordLower, c) < 0 || n == recoveryCodeLen {
			return "", false
		}
		if n == 4 {
			b[j] = '-'
			j++
		}
		b[j] = c
		j++
		n++
	}
	if n != recoveryCodeLen {
		return "", false
	}
	return string(b[:]), true
}

// recoveryHash is the stored hash of a recovery code: SHA-256 over the user
// id and the canonical code, so equal codes of two users hash differently.
func recoveryHash(userID, canonical string) Hash {
	return hashString("wakelink-recovery\x00" + userID + "\x00" + canonical)
}
