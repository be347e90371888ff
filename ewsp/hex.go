package ewsp

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
)

// Hex: every hex string EWSP 1.0 writes is lowercase, and the payload is the
// bulk of every packet, so encoding works on 8 bytes at a time in a uint64
// (SWAR), about twice as fast as encoding/hex, with a byte loop for the
// tail. Decoding accepts both cases, as the reference does (§1.3, §1.4).

const hexDigits = "0123456789abcdef"

// appendHex appends the lowercase hex encoding of src to dst.
func appendHex(dst, src []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(src))[:n+2*len(src)]
	encodeHex(dst[n:], src)
	return dst
}

// encodeHex writes the lowercase hex encoding of src to out, which must hold
// 2*len(src) bytes.
func encodeHex(out, src []byte) {
	out = out[:2*len(src)]
	i := 0
	for ; len(src)-i >= 8; i += 8 {
		w0 := hexWord(binary.LittleEndian.Uint32(src[i:]))
		w1 := hexWord(binary.LittleEndian.Uint32(src[i+4:]))
		binary.LittleEndian.PutUint64(out[2*i:], w0)
		binary.LittleEndian.PutUint64(out[2*i+8:], w1)
	}
	for ; i < len(src); i++ {
		out[2*i] = hexDigits[src[i]>>4]
		out[2*i+1] = hexDigits[src[i]&0x0f]
	}
}

// hexWord returns the 8 lowercase hex characters of the 4 bytes in x (first
// byte in the low bits), first character in the low byte.
func hexWord(x32 uint32) uint64 {
	x := uint64(x32)
	// Spread byte k into the low byte of 16-bit lane k.
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	// High nibble of byte k into byte 2k, low nibble into byte 2k+1.
	w := (x>>4)&0x000f000f000f000f | (x&0x000f000f000f000f)<<8
	// Nibble n -> '0'+n, plus 'a'-'0'-10 = 39 when n > 9.
	gt9 := ((w + 0x0606060606060606) >> 4) & 0x0101010101010101
	return w + 0x3030303030303030 + gt9*39
}

// decodeHex decodes the hex digits of src (either case; an odd last digit
// is ignored) into out, which must hold len(src)/2 bytes. It reports false
// if src holds any byte that is not a hex digit; out is then partly written.
// Decoding stays with encoding/hex: its table loop measured as fast as a
// SWAR variant here, and it validates exactly [0-9a-fA-F].
func decodeHex(out, src []byte) bool {
	n := len(src) / 2
	_, err := hex.Decode(out[:n], src[:2*n])
	return err == nil
}

// unhex returns the value of one hex digit (either case).
func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
