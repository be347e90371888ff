package ewsp

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// TestVerifyEveryByte replaces each character of a valid signature with
// every byte value: it must verify exactly when the byte is the same hex
// digit in either case (§1.4: 64 hex digits of either case).
func TestVerifyEveryByte(t *testing.T) {
	keys, err := DeriveKeys([]byte(testToken))
	if err != nil {
		t.Fatal(err)
	}
	s := signer{mac: hmac.New(sha256.New, keys.auth[:])}
	f := outer{v: []byte("1.0"), id: []byte("WL1"), seq: 7, prev: []byte(GenesisHash), p: []byte("00")}
	good := appendHex(nil, s.sign(appendSigPrefix(nil, f.v, f.id, f.seq, f.prev), f.p))
	for pos := range good {
		for b := range 256 {
			sig := append([]byte(nil), good...)
			sig[pos] = byte(b)
			f.sig = sig
			c := good[pos]
			want := byte(b) == c || (c >= 'a' && c <= 'f' && byte(b) == c-'a'+'A')
			if got := s.verify(&f); got != want {
				t.Fatalf("sig[%d] = %#x: verify %t, want %t", pos, b, got, want)
			}
		}
	}
	for _, sig := range [][]byte{good[:63], append(good, '0'), nil} {
		f.sig = sig
		if s.verify(&f) {
			t.Errorf("a %d-character sig verified", len(sig))
		}
	}
}

func TestHasEscapable(t *testing.T) {
	for _, n := range []int{1, 8, 9, 64} {
		for pos := range n {
			for b := range 256 {
				s := make([]byte, n)
				for i := range s {
					s[i] = 'a'
				}
				s[pos] = byte(b)
				want := b < 0x20 || b == '"' || b == '\\'
				if got := hasEscapable(s); got != want {
					t.Fatalf("hasEscapable(len %d, %#x at %d) = %t", n, b, pos, got)
				}
				if got := needsEscape(s); got != want {
					t.Fatalf("needsEscape(len %d, %#x at %d) = %t", n, b, pos, got)
				}
			}
		}
	}
}

// needsEscape reports whether S(s) differs from s in quotes (test oracle).
func needsEscape(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}
