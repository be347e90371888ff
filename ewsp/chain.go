package ewsp

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"slices"
	"unicode/utf8"
)

// Policy is the receive policy of a Chain (EWSP.md §1.9).
type Policy int

const (
	// PolicyStrict is the default: the reference's checks plus H1–H4.
	// It rejects, with BAD_PACKET, packets that are not in the canonical form
	// (H1), signatures with uppercase hex (H2), packets signed for another
	// device id (H3) and inner messages of the wrong kind for the receiver's
	// role (H4). The C sender always writes canonical packets, so Strict
	// interoperates with it unless something on the path rewrites bytes.
	PolicyStrict Policy = iota
	// PolicyReference is the C reference's receive procedure exactly, as the
	// vectors record it, weaknesses W1, W3, W4 and W9 included.
	PolicyReference
)

// String returns "strict" or "reference".
func (p Policy) String() string {
	switch p {
	case PolicyStrict:
		return "strict"
	case PolicyReference:
		return "reference"
	}
	return "invalid"
}

// Role says which end of a conversation a Chain is: Strict's H4 accepts
// only requests at a device and only replies at a client.
type Role int

const (
	// RoleDevice is the agent that runs commands.
	RoleDevice Role = iota + 1
	// RoleClient is the user's side that sends commands.
	RoleClient
)

// String returns "device" or "client".
func (r Role) String() string {
	switch r {
	case RoleDevice:
		return "device"
	case RoleClient:
		return "client"
	}
	return "invalid"
}

// Config holds the optional settings of a Chain; its zero value is the
// default.
type Config struct {
	// Rand is the source of payload nonces and request ids; nil means
	// crypto/rand.Reader. A failing source makes Seal fail.
	Rand io.Reader
	// Policy is the receive policy; the zero value is PolicyStrict.
	Policy Policy
}

// Hash is the SHA-256 of a packet's exact bytes, the link of a chain. The
// zero Hash is the genesis hash (64 ASCII zeros in hex). Hashes are not
// secret.
type Hash [32]byte

// String returns the lowercase hex form, as packets carry it in "prev".
func (h Hash) String() string { return string(appendHex(nil, h[:])) }

// MarshalText returns the lowercase hex form.
func (h Hash) MarshalText() ([]byte, error) { return appendHex(nil, h[:]), nil }

// UnmarshalText reads 64 hex digits (either case).
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 || !decodeHex(h[:], b) {
		return newError(CodeInvalidParams, "hash is not 64 hex digits")
	}
	return nil
}

// ParseHash reads a hash written as 64 hex digits (either case).
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// State is a chain pair (EWSP.md §1.7): the last sequence number and packet
// hash sent (tx) and received (rx). The zero State is genesis. Persist it
// atomically after every successful Seal and Open, before the packet leaves
// or the command runs, and never reset it to genesis silently (weakness
// W2). It marshals to JSON as {"tx_seq":…,"tx_last_hash":"…","rx_seq":…,
// "rx_last_hash":"…"}.
type State struct {
	TxSeq      uint64 `json:"tx_seq"`       // seq of the last packet sent
	TxLastHash Hash   `json:"tx_last_hash"` // hash of the last packet sent
	RxSeq      uint64 `json:"rx_seq"`       // seq of the last packet accepted
	RxLastHash Hash   `json:"rx_last_hash"` // hash of the last packet accepted
}

// Message is a packet that Open accepted.
type Message struct {
	// Envelope holds the request or reply fields read from the inner.
	Envelope
	// Inner is the decrypted inner text; it was appended to Open's dst.
	Inner []byte
	// Seq is the packet's sequence number.
	Seq uint64
	// Prev is the hash the packet chained to (the previous RxLastHash).
	Prev Hash
	// Hash is the SHA-256 of the packet as received, the new RxLastHash.
	Hash Hash
}

// Chain is one EWSP 1.0 chain pair with its keys: it seals packets on its
// tx chain and opens packets on its rx chain. A device keeps one Chain,
// shared by all its clients; a client keeps one per device.
//
// A Chain is not safe for concurrent use: serialise Seal, Open, State and
// SetState, e.g. with a mutex held while the new state is persisted.
type Chain struct {
	id     []byte // device id
	idJSON []byte // S(id)
	role   Role
	policy Policy
	rand   io.Reader
	cipher payloadCipher
	sig    signer
	st     State
	rxHex  [64]byte // st.RxLastHash in lowercase hex: the prev Open expects

	nonce     [NonceSize]byte
	ridBytes  [RequestIDLen]byte
	raw       [MaxPayloadHexLen/2 + tagRoom]byte
	inner     []byte // SealRequest's inner message
	readerBuf []byte // fields decoded by the reference reader
	canon     []byte // canonical re-encoding for H1
}

// NewChain returns a Chain at genesis for the agent token (the end-to-end
// secret; never the relay's wld_ device token) and the device id, acting as
// role. The token must satisfy DeriveKeys; the device id must be 1–32 bytes
// of valid UTF-8 with no byte below 0x20, and is never truncated (else
// INVALID_PARAMS). Restore a persisted state with SetState.
func NewChain(token []byte, deviceID string, role Role, cfg Config) (*Chain, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	if err := checkDeviceID(deviceID); err != nil {
		return nil, err
	}
	if role != RoleDevice && role != RoleClient {
		return nil, newError(CodeInvalidParams, "role must be RoleDevice or RoleClient")
	}
	if cfg.Policy != PolicyStrict && cfg.Policy != PolicyReference {
		return nil, newError(CodeInvalidParams, "Config.Policy is not a known policy")
	}
	keys, err := deriveKeys(token)
	if err != nil {
		return nil, err
	}
	return newChain(keys, []byte(deviceID), role, cfg), nil
}

// checkDeviceID applies §1.10: 1–32 bytes of valid UTF-8, no byte < 0x20.
func checkDeviceID(id string) error {
	if len(id) == 0 || len(id) > MaxDeviceIDLen {
		return newError(CodeInvalidParams, "device id must be 1-32 bytes")
	}
	if !utf8.ValidString(id) {
		return newError(CodeInvalidParams, "device id is not valid UTF-8")
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 {
			return newError(CodeInvalidParams, "device id holds a control byte")
		}
	}
	return nil
}

// newChain builds a Chain without checking its arguments.
func newChain(keys *Keys, id []byte, role Role, cfg Config) *Chain {
	c := &Chain{
		id:     slices.Clone(id),
		idJSON: appendJSONString(nil, id),
		role:   role,
		policy: cfg.Policy,
		rand:   cfg.Rand,
		cipher: newPayloadCipher(&keys.enc),
		sig:    signer{mac: hmac.New(sha256.New, keys.auth[:])},
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	c.SetState(State{})
	return c
}

// DeviceID returns the chain's device id.
func (c *Chain) DeviceID() string { return string(c.id) }

// State returns the chain pair, for persistence.
func (c *Chain) State() State { return c.st }

// SetState replaces the chain pair, e.g. with one persisted earlier. Any
// counters are accepted; Seal refuses to go past MaxSeq.
func (c *Chain) SetState(s State) {
	c.st = s
	encodeHex(c.rxHex[:], s.RxLastHash[:])
}

// Seal encrypts and signs inner (at most MaxInnerLen bytes, else
// PAYLOAD_TOO_LARGE) as the next packet of the tx chain and appends the
// packet to dst. It draws the 24-byte nonce from Config.Rand. It fails with
// BAD_SEQUENCE once the tx sequence has reached MaxSeq, and with
// ENCRYPT_FAILED when the random source fails; the state changes only on
// success.
//
// Replies travel on the replier's own tx chain, like requests.
func (c *Chain) Seal(dst, inner []byte) ([]byte, error) {
	return c.seal(dst, inner, &c.st.TxLastHash)
}

// SealRequest builds the request {"cmd":…,"d":data,"rid":…} for cmd (see
// AppendRequest) with a fresh request id and seals it. Config.Rand gives 8
// bytes for the rid, then 24 for the nonce. It returns the packet appended
// to dst and the rid the reply will carry.
func (c *Chain) SealRequest(dst []byte, cmd Command, data []byte) (packet []byte, rid string, err error) {
	if err := checkRequest(cmd, data); err != nil {
		return dst, "", err
	}
	if err := readRandom(c.rand, c.ridBytes[:]); err != nil {
		return dst, "", err
	}
	rid = string(requestID(&c.ridBytes))
	c.inner = appendRequest(c.inner[:0], cmd, data, rid)
	packet, err = c.Seal(dst, c.inner)
	return packet, rid, err
}

func errSeqExhausted() error {
	return newError(CodeBadSequence, "tx sequence reached 2^63-1: the chain needs a new agent token")
}

// seal seals inner with prev as the "prev" field (the tx hash, except for
// the test-only reproduction of the reference's reply builder).
func (c *Chain) seal(dst, inner []byte, prev *Hash) ([]byte, error) {
	if len(inner) > MaxInnerLen {
		return dst, newError(CodePayloadTooLarge, "inner message longer than 2047 bytes")
	}
	if c.st.TxSeq >= MaxSeq {
		return dst, errSeqExhausted()
	}
	if err := readRandom(c.rand, c.nonce[:]); err != nil {
		return dst, err
	}
	return c.sealNonce(dst, inner, prev), nil
}

// sealNonce writes the packet for inner with the nonce in c.nonce.
func (c *Chain) sealNonce(dst, inner []byte, prev *Hash) []byte {
	seq := c.st.TxSeq + 1
	raw := c.cipher.sealRaw(c.raw[:], inner, &c.nonce)
	var prevHex [64]byte
	encodeHex(prevHex[:], prev[:])

	total := len(`{"v":"1.0"`) + len(tmplID) + len(c.idJSON) + len(tmplSeq) + decLen(seq) +
		len(tmplPrev) + 66 + len(tmplP) + 2 + 2*len(raw) + len(tmplSig) + 66 + len(tmplEnd)
	dst = slices.Grow(dst, total)
	start := len(dst)
	dst = append(dst, `{"v":"1.0"`...)
	dst = append(dst, tmplID...)
	dst = append(dst, c.idJSON...)
	dst = append(dst, tmplSeq...)
	dst = appendUint(dst, seq)
	dst = append(dst, tmplPrev...)
	dst = append(dst, '"')
	dst = append(dst, prevHex[:]...)
	dst = append(dst, '"')
	dst = append(dst, tmplP...)
	dst = append(dst, '"')
	pStart := len(dst)
	dst = appendHex(dst, raw)
	p := dst[pStart:]
	dst = append(dst, '"')
	dst = append(dst, tmplSig...)
	dst = append(dst, '"')

	pre := append(c.sig.prefix[:0], Version1+"|"...)
	pre = append(pre, c.id...)
	pre = append(pre, '|')
	pre = appendUint(pre, seq)
	pre = append(pre, '|')
	pre = append(pre, prevHex[:]...)
	c.sig.prefix = append(pre, '|')
	mac := c.sig.sign(c.sig.prefix, p)

	dst = appendHex(dst, mac)
	dst = append(dst, '"')
	dst = append(dst, tmplEnd...)
	c.st.TxSeq, c.st.TxLastHash = seq, sha256.Sum256(dst[start:])
	return dst
}

// Open verifies and decrypts packet with the receive procedure of EWSP.md
// §1.8 under the chain's policy and, on success, appends the inner text to
// dst and advances the rx chain. To reuse the packet's storage for the
// inner text, use packet[:0] as dst; otherwise dst must not overlap packet.
// Open may write into dst's spare capacity even when it fails. On any error the state is unchanged and the
// error is an *Error whose code is the reference's (plus BAD_PACKET for
// Strict's predicates); its Detail is for local logs only. Never send
// details to the peer.
//
// The checks, first failure wins: input over MaxPacketLen; reading the
// fields (BAD_PACKET); v = "1.0" (BAD_VERSION); the signed string under
// 8192 bytes (BUFFER_TOO_SMALL); the signature (INVALID_SIGNATURE); seq
// above the last (REPLAY_DETECTED) and at most MaxSeqJump above it
// (SEQ_JUMP_TOO_LARGE); prev equal to the last hash (CHAIN_BROKEN); the
// payload (DECRYPT_FAILED).
func (c *Chain) Open(dst, packet []byte) (Message, error) {
	if len(packet) > MaxPacketLen {
		return Message{}, newError(CodeBadPacket, "packet longer than 65536 bytes")
	}
	strict := c.policy == PolicyStrict
	in := packet

	// Step 1: read the fields. A packet the canonical fast path reads holds
	// no 0x00; any other goes through the C-string cut and the reference
	// reader.
	var f outer
	canonical := parseCanonicalPacket(in, &f, c.raw[:], c.rxHex[:])
	if !canonical {
		if i := bytes.IndexByte(in, 0); i >= 0 {
			if strict {
				return Message{}, newError(CodeBadPacket, "packet holds a 0x00 byte (strict H1)")
			}
			in = in[:i] // a C string: the reference reads, and hashes, up to the 0x00
		}
		if c.readerBuf == nil {
			c.readerBuf = make([]byte, readerBufLen)
		}
		if !parseReferencePacket(in, &f, c.readerBuf) {
			return Message{}, newError(CodeBadPacket, "failed to read the outer packet")
		}
		if strict {
			c.canon = appendPacket(c.canon[:0], &f)
			canonical = bytes.Equal(c.canon, in)
		}
	}
	if strict {
		if !canonical {
			return Message{}, newError(CodeBadPacket, "packet is not in canonical form (strict H1)")
		}
		if hasUpperHex(f.sig) {
			return Message{}, newError(CodeBadPacket, "signature has uppercase hex (strict H2)")
		}
	}
	// Step 2: version, before the signature.
	if string(f.v) != Version1 {
		return Message{}, newError(CodeBadVersion, "packet version is not 1.0")
	}
	// Step 3: signature.
	if f.sigInputLen() > MaxSigInputLen {
		return Message{}, newError(CodeBufferTooSmall, "signed string does not fit the reference's 8192-byte buffer")
	}
	if !c.sig.verify(&f) {
		return Message{}, newError(CodeInvalidSignature, "signature does not verify")
	}
	if strict && !bytes.Equal(f.id, c.id) {
		return Message{}, newError(CodeBadPacket, "packet signed for another device id (strict H3)")
	}
	// Step 4: sequence and chain.
	rx := c.st.RxSeq
	if f.seq <= rx {
		return Message{}, newError(CodeReplayDetected, "seq not above the last received")
	}
	if f.seq > rx+MaxSeqJump { // wrapping, as in the reference
		return Message{}, newError(CodeSeqJumpTooLarge, "seq jumps more than 100")
	}
	if !f.prevIs(c.rxHex[:]) {
		return Message{}, newError(CodeChainBroken, "prev is not the last received packet's hash")
	}
	// Step 5 (unreachable: the reader bounds p).
	if len(f.p) > MaxPayloadHexLen {
		return Message{}, newError(CodePayloadTooLarge, "payload too long")
	}
	// Step 6: payload. The hash comes first: dst may reuse the packet's
	// storage (packet[:0]).
	hash := sha256.Sum256(in)
	start := len(dst)
	dst, ok := c.decrypt(dst, &f)
	if !ok {
		return Message{}, newError(CodeDecryptFailed, "payload does not decode")
	}
	inner := dst[start:]
	env := ParseEnvelope(inner)
	if strict && env.IsResponse != (c.role == RoleClient) {
		clear(inner)
		if c.role == RoleClient {
			return Message{}, newError(CodeBadPacket, "client received a request (strict H4)")
		}
		return Message{}, newError(CodeBadPacket, "device received a reply (strict H4)")
	}
	// Step 7: commit.
	m := Message{Envelope: env, Inner: inner, Seq: f.seq, Prev: c.st.RxLastHash, Hash: hash}
	c.st.RxSeq, c.st.RxLastHash = m.Seq, m.Hash
	encodeHex(c.rxHex[:], m.Hash[:])
	return m, nil
}

// decrypt decodes the payload with capacity MaxInnerLen (§1.3) and appends
// the plaintext to dst.
func (c *Chain) decrypt(dst []byte, f *outer) ([]byte, bool) {
	var raw []byte
	if f.rawOK {
		if f.rawOdd {
			return dst, false
		}
		raw = f.raw
	} else {
		if len(f.p)%2 != 0 {
			return dst, false
		}
		raw = c.raw[:len(f.p)/2]
		if !decodeHex(raw, f.p) {
			return dst, false
		}
	}
	if len(raw) < minPayloadRaw {
		return dst, false
	}
	l, code := checkPayloadRaw(raw, MaxInnerLen)
	if code != CodeOK {
		return dst, false
	}
	return c.cipher.openRaw(dst, raw, l), true
}
