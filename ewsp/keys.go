package ewsp

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
)

// Keys holds the EWSP 1.0 key material derived from an agent token
// (EWSP.md §1.2): the master key SHA-256(T), enc_key (payload cipher) and
// auth_key (packet signature). Both directions use the same keys.
//
// Keys never print their bytes: String, GoString, every fmt verb and
// LogValue give a redacted form, and Equal compares in constant time. A
// Keys value is not comparable with ==.
type Keys struct {
	_      [0]func() // not comparable
	master [32]byte
	enc    [32]byte
	auth   [32]byte
}

// Equal reports, in constant time, whether k and o hold the same keys.
// Keys derived from the same agent token are equal.
func (k *Keys) Equal(o *Keys) bool {
	if k == nil || o == nil {
		return k == o
	}
	return subtle.ConstantTimeCompare(k.master[:], o.master[:])&
		subtle.ConstantTimeCompare(k.enc[:], o.enc[:])&
		subtle.ConstantTimeCompare(k.auth[:], o.auth[:]) == 1
}

const redactedKeys = "ewsp.Keys(REDACTED)"

// String returns a redacted form; it never contains key material.
func (Keys) String() string { return redactedKeys }

// GoString returns a redacted form for %#v.
func (Keys) GoString() string { return redactedKeys }

// Format writes the redacted form for every fmt verb, so that %x or %d
// cannot print key bytes either.
func (Keys) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedKeys) }

// LogValue implements slog.LogValuer with the redacted form.
func (Keys) LogValue() slog.Value { return slog.StringValue(redactedKeys) }
