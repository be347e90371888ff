package ewsp

import (
	"crypto/cipher"

	"golang.org/x/crypto/chacha20"
)

// The payload field "p" of EWSP 1.0 (EWSP.md §1.3):
//
//	p = hex(u16be(len(P)) || C || N),  C = P XOR XChaCha20(enc_key, N) from block 1
//
// with a fresh 24-byte nonce N, no tag and no associated data.

const (
	payloadOverhead = 2 + NonceSize // length prefix and nonce
	minPayloadRaw   = payloadOverhead
	// tagRoom is the spare capacity the AEAD keystream path needs after its
	// output: x/crypto's Seal writes a 16-byte tag that the caller discards.
	tagRoom = 16
)

// payloadCipher is XChaCha20 from block counter 1 under enc_key.
type payloadCipher struct {
	key   [32]byte
	aead  cipher.AEAD // non-nil: the keystream comes from x/crypto's AEAD Seal
	nonce [NonceSize]byte
}

func newPayloadCipher(key *[32]byte) payloadCipher {
	return payloadCipher{key: *key, aead: newAEADKeystream(key[:])}
}

// xor sets out[:len(in)] = in XOR XChaCha20(key, nonce) from block 1. out
// and in must be the same slice (in place) or not overlap. With the AEAD
// path, out needs tagRoom bytes of spare capacity past len(in), which it
// overwrites; without it the plain chacha20 path runs.
func (pc *payloadCipher) xor(out, in []byte, nonce *[NonceSize]byte) {
	if pc.aead != nil && cap(out) >= len(in)+tagRoom {
		pc.aead.Seal(out[:0], nonce[:], in, nil)
		return
	}
	s, err := chacha20.NewUnauthenticatedCipher(pc.key[:], nonce[:])
	if err != nil {
		// Unreachable: the key is 32 bytes and the nonce 24.
		panic("ewsp: chacha20: " + err.Error())
	}
	s.SetCounter(1)
	s.XORKeyStream(out[:len(in)], in)
}

// sealRaw writes u16be(len(pt)) || C || nonce to raw, which must have room
// for len(pt)+payloadOverhead+tagRoom bytes, and returns that prefix of raw.
// pt must not overlap raw.
func (pc *payloadCipher) sealRaw(raw, pt []byte, nonce *[NonceSize]byte) []byte {
	n := len(pt)
	raw = raw[:2+n+NonceSize]
	raw[0], raw[1] = byte(n>>8), byte(n)
	pc.xor(raw[2:2+n], pt, nonce)
	copy(raw[2+n:], nonce[:])
	return raw
}

// appendPayload appends p for plaintext pt under nonce. More than
// MaxPayloadPlaintext bytes fail with BUFFER_TOO_SMALL, as the reference's
// 8193-byte hex buffer does (which also rules out a wrapping length prefix).
func (pc *payloadCipher) appendPayload(dst, pt []byte, nonce *[NonceSize]byte) ([]byte, Code) {
	if len(pt) > MaxPayloadPlaintext {
		return dst, CodeBufferTooSmall
	}
	raw := make([]byte, len(pt)+payloadOverhead+tagRoom)
	return appendHex(dst, pc.sealRaw(raw, pt, nonce)), CodeOK
}

// checkPayloadRaw applies the checks of §1.3 that follow hex decoding to
// the decoded bytes: the length prefix L must satisfy 2+L+24 = len(raw)
// (else the unnamed -507) and L <= capacity (else BUFFER_TOO_SMALL).
func checkPayloadRaw(raw []byte, capacity int) (l int, code Code) {
	l = int(raw[0])<<8 | int(raw[1])
	if 2+l+NonceSize != len(raw) {
		return 0, codeInvalidLength
	}
	if l > capacity {
		return 0, CodeBufferTooSmall
	}
	return l, CodeOK
}

// openRaw decrypts the checked raw payload (length prefix l) and appends
// the plaintext to dst: straight into dst when its spare capacity has
// tagRoom bytes to spare (the AEAD path writes its discarded tag there),
// else in place in raw, which then needs that room, and copied. raw must
// not overlap dst's spare capacity.
func (pc *payloadCipher) openRaw(dst, raw []byte, l int) []byte {
	copy(pc.nonce[:], raw[len(raw)-NonceSize:]) // the in-place path overwrites it
	ct := raw[2 : 2+l]
	if n := len(dst); cap(dst)-n >= l+tagRoom {
		pc.xor(dst[n:n+l], ct, &pc.nonce)
		return dst[:n+l]
	}
	pc.xor(ct, ct, &pc.nonce)
	return append(dst, ct...)
}

// decodePayload decodes p with capacity K (§1.3), first failure wins: odd
// length, fewer than 26 decoded bytes or a non-hex character give
// BAD_PACKET; a length prefix that disagrees with the body the unnamed
// -507; a plaintext longer than capacity BUFFER_TOO_SMALL. On success the
// plaintext is appended to dst.
func (pc *payloadCipher) decodePayload(dst, p []byte, capacity int) ([]byte, Code) {
	if len(p)%2 != 0 || len(p)/2 < minPayloadRaw {
		return dst, CodeBadPacket
	}
	raw := make([]byte, len(p)/2, len(p)/2+tagRoom)
	if !decodeHex(raw, p) {
		return dst, CodeBadPacket
	}
	l, code := checkPayloadRaw(raw, capacity)
	if code != CodeOK {
		return dst, code
	}
	return pc.openRaw(dst, raw, l), CodeOK
}
