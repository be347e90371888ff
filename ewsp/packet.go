package ewsp

import (
	"bytes"
	"encoding/binary"
	"hash"
)

// The outer packet of EWSP 1.0 (EWSP.md §1.5):
//
//	{"v":S(v),"id":S(id),"seq":dec(seq),"prev":S(prev),"p":S(p),"sig":S(sig)}
//
// with no whitespace and no trailing newline, signed over
// sig_input = v "|" id "|" dec(seq) "|" prev "|" p (§1.4).

const (
	tmplV    = `{"v":`
	tmplID   = `,"id":`
	tmplSeq  = `,"seq":`
	tmplPrev = `,"prev":`
	tmplP    = `,"p":`
	tmplSig  = `,"sig":`
	tmplEnd  = `}`
)

// outer holds the fields a receiver read from a packet: slices of the input
// (canonical fast path) or of the chain's scratch (reference reader).
type outer struct {
	v, id, prev, p, sig []byte
	seq                 uint64
	// raw is p already hex-decoded (fast path), valid when rawOK; rawOdd
	// records an odd number of digits (its last digit is not decoded).
	raw    []byte
	rawOK  bool
	rawOdd bool
	// fast is set by the canonical fast path, which also kept the step-4c
	// comparison in prevMatch.
	fast      bool
	prevMatch bool
}

// sigInputLen returns len(sig_input) for the fields.
func (f *outer) sigInputLen() int {
	return len(f.v) + len(f.id) + decLen(f.seq) + len(f.prev) + len(f.p) + 4
}

// canonicalHead is how every canonical 1.0 packet starts.
const canonicalHead = `{"v":"1.0","id":"`

// parseCanonicalPacket reads in if it is a canonical packet of the shape
// every Go or C sender writes: v "1.0", an id of at most 32 bytes that needs
// no escape, seq in canonical decimal up to MaxSeq, prev and sig of 64 hex
// digits, and p of hex digits only, at most MaxPayloadHexLen, which it
// decodes into raw (capacity >= MaxPayloadHexLen/2); it decodes sig too.
// For such input the reference reader of §1.6 returns exactly these values
// and Strict's H1 holds. It returns false for anything else (the caller
// then runs the reference reader, which decides): declining is always safe.
//
// rxHex is the receiver's expected prev (the lowercase hex of its last
// received hash): a prev equal to it needs no further check, and the result
// of the comparison is kept for §1.8 step 4c.
func parseCanonicalPacket(in []byte, f *outer, raw, rxHex []byte) bool {
	if !bytes.HasPrefix(in, []byte(canonicalHead)) {
		return false
	}
	f.v = in[len(`{"v":"`) : len(`{"v":"`)+len(Version1)]
	i := len(canonicalHead)
	start := i
	for ; i < len(in) && in[i] != '"'; i++ {
		if c := in[i]; c < 0x20 || c == '\\' || i-start >= MaxDeviceIDLen {
			return false
		}
	}
	if i >= len(in) {
		return false
	}
	f.id = in[start:i]
	i++
	if !bytes.HasPrefix(in[i:], []byte(tmplSeq)) {
		return false
	}
	var ok bool
	if f.seq, i, ok = canonicalUint(in, i+len(tmplSeq)); !ok {
		return false
	}
	const prevHead = tmplPrev + `"`
	if len(in)-i < len(prevHead)+65 || !bytes.HasPrefix(in[i:], []byte(prevHead)) {
		return false
	}
	i += len(prevHead)
	f.prev = in[i : i+64]
	if in[i+64] != '"' {
		return false
	}
	if f.prevMatch = bytes.Equal(f.prev, rxHex); !f.prevMatch {
		var b [32]byte
		if !decodeHex(b[:], f.prev) {
			return false
		}
	}
	i += 65
	const pHead = tmplP + `"`
	if !bytes.HasPrefix(in[i:], []byte(pHead)) {
		return false
	}
	i += len(pHead)
	q := bytes.IndexByte(in[i:], '"')
	if q < 0 || q > MaxPayloadHexLen {
		return false
	}
	f.p = in[i : i+q]
	i += q + 1
	n := len(f.p) / 2
	if !decodeHex(raw[:n], f.p[:2*n]) {
		return false
	}
	f.rawOdd = len(f.p)%2 != 0
	if f.rawOdd {
		if _, ok := unhex(f.p[len(f.p)-1]); !ok {
			return false
		}
	}
	f.raw, f.rawOK = raw[:n], true
	const sigHead = tmplSig + `"`
	if len(in)-i != len(sigHead)+64+2 || !bytes.HasPrefix(in[i:], []byte(sigHead)) {
		return false
	}
	i += len(sigHead)
	f.sig = in[i : i+64]
	if in[i+64] != '"' || in[i+65] != '}' {
		return false
	}
	if hasEscapable(f.sig) { // verify checks the digits; H1 needs no escapes
		return false
	}
	f.fast = true
	return true
}

// hasEscapable reports whether s holds a byte that S escapes: a quote, a
// backslash or a byte below 0x20.
func hasEscapable(s []byte) bool {
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64(s)
		if zeroBytes(x^0x2222222222222222)|zeroBytes(x^0x5c5c5c5c5c5c5c5c)|
			(x-0x2020202020202020)&^x&0x8080808080808080 != 0 {
			return true
		}
		s = s[8:]
	}
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// prevIs reports whether prev is exactly rxHex, the receiver's last hash in
// lowercase hex (§1.8 step 4c compares text, case-sensitively).
func (f *outer) prevIs(rxHex []byte) bool {
	if f.fast { // compared while reading
		return f.prevMatch
	}
	return bytes.Equal(f.prev, rxHex)
}

// canonicalUint reads dec(u) for u <= MaxSeq ("0" or no leading zero).
func canonicalUint(in []byte, i int) (uint64, int, bool) {
	start := i
	var u uint64
	for ; i < len(in) && isDigit(in[i]); i++ {
		if i-start >= 19 {
			return 0, 0, false
		}
		u = u*10 + uint64(in[i]-'0')
	}
	n := i - start
	if n == 0 || (n > 1 && in[start] == '0') || u > MaxSeq {
		return 0, 0, false
	}
	return u, i, true
}

// readerBufLen is the room the reference reader needs for the decoded
// v, id, prev, p and sig at their limits.
const readerBufLen = MaxVersionLen + MaxDeviceIDLen + MaxPrevLen + MaxPayloadHexLen + MaxSigLen

// parseReferencePacket reads the fields with the reference reader (§1.6),
// in the order of §1.8 step 1; any failure is BAD_PACKET. Strings that hold
// escapes are decoded into buf (length >= readerBufLen), one region per
// field.
func parseReferencePacket(in []byte, f *outer, buf []byte) bool {
	f.raw, f.rawOK, f.rawOdd, f.fast = nil, false, false, false
	off := 0
	field := func(key string, max int) ([]byte, Code) {
		region := buf[off : off : off+max]
		off += max
		return refString(region, in, key, max)
	}
	var code Code
	if f.v, code = field("v", MaxVersionLen); code != CodeOK {
		return false
	}
	if f.id, code = field("id", MaxDeviceIDLen); code != CodeOK {
		return false
	}
	if f.seq, code = refUint(in, "seq"); code != CodeOK {
		return false
	}
	if f.prev, code = field("prev", MaxPrevLen); code != CodeOK {
		return false
	}
	if f.p, code = field("p", MaxPayloadHexLen); code != CodeOK {
		return false
	}
	f.sig, code = field("sig", MaxSigLen)
	return code == CodeOK
}

// appendPacket appends the canonical packet for the fields (§1.5).
func appendPacket(dst []byte, f *outer) []byte {
	dst = append(dst, tmplV...)
	dst = appendJSONString(dst, f.v)
	dst = append(dst, tmplID...)
	dst = appendJSONString(dst, f.id)
	dst = append(dst, tmplSeq...)
	dst = appendUint(dst, f.seq)
	dst = append(dst, tmplPrev...)
	dst = appendJSONString(dst, f.prev)
	dst = append(dst, tmplP...)
	dst = appendJSONString(dst, f.p)
	dst = append(dst, tmplSig...)
	dst = appendJSONString(dst, f.sig)
	return append(dst, tmplEnd...)
}

// appendSigPrefix appends v "|" id "|" dec(seq) "|" prev "|", the part of
// sig_input before p.
func appendSigPrefix(dst, v, id []byte, seq uint64, prev []byte) []byte {
	dst = append(dst, v...)
	dst = append(dst, '|')
	dst = append(dst, id...)
	dst = append(dst, '|')
	dst = appendUint(dst, seq)
	dst = append(dst, '|')
	dst = append(dst, prev...)
	return append(dst, '|')
}

// signer computes HMAC-SHA256(auth_key, sig_input) with a reused keyed hash.
type signer struct {
	mac    hash.Hash
	prefix []byte
	sum    [32]byte
	want   [64]byte // the MAC in lowercase hex
}

// sign returns the MAC of prefix || p; the result aliases s.sum.
func (s *signer) sign(prefix, p []byte) []byte {
	s.mac.Reset()
	s.mac.Write(prefix)
	s.mac.Write(p)
	return s.mac.Sum(s.sum[:0])
}

// verify checks sig against the MAC of sig_input (§1.4): exactly 64 hex
// digits of either case whose bytes equal the HMAC. It compares in the hex
// domain and in constant time: each 8-byte word of sig, with A–F folded to
// a–f, is XORed with the same word of the MAC's lowercase hex and the
// differences are ORed together, with no branch on the data (the fold is
// fused into the comparison, which subtle.ConstantTimeCompare cannot do).
// Equality holds exactly when every character of sig is a hex digit and the
// digits encode the MAC: folding changes nothing but A–F, and the MAC's hex
// holds only [0-9a-f].
func (s *signer) verify(f *outer) bool {
	s.prefix = appendSigPrefix(s.prefix[:0], f.v, f.id, f.seq, f.prev)
	mac := s.sign(s.prefix, f.p)
	if len(f.sig) != len(s.want) {
		return false
	}
	encodeHex(s.want[:], mac)
	var diff uint64
	for i := 0; i < len(s.want); i += 8 {
		x := binary.LittleEndian.Uint64(f.sig[i:])
		diff |= (x + upperHexMask(x)>>2) ^ binary.LittleEndian.Uint64(s.want[i:])
	}
	return diff == 0
}

// upperHexMask returns 0x80 in every byte of x that is one of A–F, else 0.
func upperHexMask(x uint64) uint64 {
	// With the high bits cleared no addition carries between bytes:
	// y+0x3f has its high bit set iff y >= 0x41, y+0x39 iff y >= 0x47.
	// Bytes of 0x80 and above are never A–F: &^ x drops them.
	y := x & 0x7f7f7f7f7f7f7f7f
	return (y + 0x3f3f3f3f3f3f3f3f) &^ (y + 0x3939393939393939) &^ x & 0x8080808080808080
}

// hasUpperHex reports whether s holds any of A–F (Strict's H2 predicate).
func hasUpperHex(s []byte) bool {
	for len(s) >= 8 {
		if upperHexMask(binary.LittleEndian.Uint64(s)) != 0 {
			return true
		}
		s = s[8:]
	}
	for _, c := range s {
		if c >= 'A' && c <= 'F' {
			return true
		}
	}
	return false
}
