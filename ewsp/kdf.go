package ewsp

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
)

// HKDF info strings of EWSP 1.0 (EWSP.md §1.2). The published spec's "_v1"
// strings over the raw token are wrong: the reference uses these, over the
// master key.
const (
	encKeyInfo  = "wakelink_encryption_v2"
	authKeyInfo = "wakelink_authentication_v2"
)

// DeriveKeys derives the EWSP 1.0 keys from the bytes of an agent token T
// (never the relay's wld_ device token): master = SHA-256(T), enc_key and
// auth_key = HKDF-SHA256 of master with no salt and the 1.0 info strings.
//
// It accepts what the reference accepts, any T of at least MinTokenLen
// bytes, with one exception: a T containing 0x00, which the reference
// (reading tokens as C strings) cannot hold, fails with INVALID_TOKEN. A
// shorter T fails with TOKEN_TOO_SHORT. The stricter policy for tokens that
// users create (32–256 printable ASCII bytes) is CheckTokenPolicy's, not
// this function's.
func DeriveKeys(token []byte) (*Keys, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	return deriveKeys(token)
}

// checkToken applies the derivation rule of §1.2: no 0x00 (checked first),
// then at least MinTokenLen bytes.
func checkToken(token []byte) error {
	if bytes.IndexByte(token, 0) >= 0 {
		return newError(CodeInvalidToken, "agent token contains a 0x00 byte")
	}
	if len(token) < MinTokenLen {
		return newError(CodeTokenTooShort, "agent token is shorter than 32 bytes")
	}
	return nil
}

// deriveKeys derives the keys without checking the token.
func deriveKeys(token []byte) (*Keys, error) {
	k := new(Keys)
	k.master = sha256.Sum256(token)
	if err := hkdfInto(k.enc[:], k.master[:], encKeyInfo); err != nil {
		return nil, err
	}
	if err := hkdfInto(k.auth[:], k.master[:], authKeyInfo); err != nil {
		return nil, err
	}
	return k, nil
}

// hkdfInto writes HKDF-SHA256(salt = none, ikm, info) to out (32 bytes).
// crypto/hkdf fails only for outputs longer than 255 hash blocks or hashes
// the FIPS 140-only mode forbids, neither of which applies here.
func hkdfInto(out, ikm []byte, info string) error {
	okm, err := hkdf.Key(sha256.New, ikm, nil, info, len(out))
	if err != nil {
		return &Error{Code: CodeInternal, Detail: "key derivation failed", Err: err}
	}
	copy(out, okm)
	clear(okm)
	return nil
}
