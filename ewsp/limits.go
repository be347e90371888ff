package ewsp

// Limits shared by both profiles (EWSP.md §1.10, §2.2).
const (
	// MaxInnerLen is the largest inner plaintext (the {cmd,d,rid} request or
	// the reply) in bytes: the largest a 1.0 receiver accepts and the largest
	// either profile sends.
	MaxInnerLen = 2047

	// MinTokenLen is the shortest agent token key derivation accepts, in bytes.
	MinTokenLen = 32

	// MaxDeviceIDLen is the longest device id, in bytes.
	MaxDeviceIDLen = 32

	// MaxCommandLen is the longest command name, in bytes.
	MaxCommandLen = 32

	// RequestIDLen is the length of a request id (rid).
	RequestIDLen = 8

	// RequestIDAlphabet is the alphabet of request ids.
	RequestIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// EWSP 1.0 limits and fixed values (EWSP.md §1.3–§1.10).
const (
	// Version1 is the value of the "v" field of an EWSP 1.0 packet.
	Version1 = "1.0"

	// GenesisHash is the hash a fresh chain starts from: 64 ASCII zeros.
	// It is the hex form of the zero Hash.
	GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

	// MaxSeqJump is the largest step a received seq may take past the last
	// one accepted (a jump of exactly 100 passes).
	MaxSeqJump = 100

	// MaxSeq is the last sequence number a Chain sends; receivers saturate
	// larger numbers there.
	MaxSeq = 1<<63 - 1

	// NonceSize is the size of the payload nonce, in bytes.
	NonceSize = 24

	// MaxPayloadHexLen is the longest "p" field a receiver reads, in characters.
	MaxPayloadHexLen = 8192

	// MaxPayloadPlaintext is the largest plaintext the payload encoder takes
	// (the reference's 8193-byte hex buffer). Chains send at most MaxInnerLen.
	MaxPayloadPlaintext = 4070

	// MaxSigInputLen is the longest signed string a receiver accepts
	// (sig_input must be shorter than the reference's 8192-byte buffer).
	MaxSigInputLen = 8191

	// MaxPacketLen is the longest input Open reads (Go's own bound).
	MaxPacketLen = 65536

	// MaxCanonicalPacketLen is the length of the largest canonical packet
	// with an unescaped id: 2047-byte inner, 32-byte id, 19-digit seq.
	MaxCanonicalPacketLen = 4377

	// MaxVersionLen is the longest "v" a receiver reads (decoded bytes).
	MaxVersionLen = 7

	// MaxPrevLen is the longest "prev" a receiver reads (decoded bytes).
	MaxPrevLen = 64

	// MaxSigLen is the longest "sig" a receiver reads (decoded bytes).
	MaxSigLen = 64
)
