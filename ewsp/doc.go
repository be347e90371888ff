// Package ewsp implements EWSP, WakeLink's end-to-end protocol between a
// user's clients and a device, through the blind relay or on the LAN. Today
// it holds EWSP 1.0, the compatibility profile, byte for byte the packet
// layer of the public C reference ewsp-core 1.0.0
// (github.com/wakelinkdev/ewsp, commit 70b2d4f), proven by the 285 cases of
// testdata/vectors. The normative text is EWSP.md of the project's shared
// folder; section numbers below refer to it.
//
// # What it does
//
// Keys come from the agent token, the end-to-end secret held only by the
// user's clients and the device (DeriveKeys). The relay's wld_ device token
// and the account tokens are never key material.
//
// A Chain is one chain pair with its keys. Seal turns an inner message (at
// most MaxInnerLen bytes) into the next packet of the chain's tx side,
// appended to a caller buffer; Open checks a received packet in the exact
// order of §1.8 and, on success, returns the decrypted inner message and
// advances the rx side. Replies travel on the replier's own tx chain. A
// device keeps one Chain for all its clients; a client keeps one per device,
// persisted (State, SetState) atomically with every successful Seal and
// Open.
//
// Open has two policies. PolicyReference is the C reference's receive
// procedure exactly, weaknesses included. PolicyStrict, the default, adds
// four checks (canonical bytes, lowercase signature, the chain's device id,
// the right kind of inner message for the receiver's role) and rejects
// what fails them with BAD_PACKET; the C sender always writes packets that
// pass them.
//
// The inner messages are shared by all profiles: AppendRequest and
// Chain.SealRequest build requests, the Append*Reply functions build the
// reference's reply bytes, ParseEnvelope, ParseRequest and ParseReply read
// them, and typed helpers (WakeRequest, Info, …) cover the command fields
// of §1.12. ParseMAC is the strict MAC syntax of devices, ParseMACLenient
// the client-side parser for user input.
//
// Errors are *Error values carrying the reference's numeric Code and NAME;
// match them with errors.Is against the sentinels (ErrBadPacket, …). On the
// wire an error travels as its NAME only; Error.Detail stays in local logs.
//
// # What it never does
//
// The package is pure: no I/O, no goroutines, no clock and no package-level
// mutable state. Randomness comes from Config.Rand (default crypto/rand);
// a failing source is an error, never a weak nonce. Bad input gives an error
// with a stable code, never a panic. Keys never appear in errors, String
// output or logs. It does not implement the reference's session layer
// (handshake, session AEAD, ratchet): its Poly1305 is not RFC 8439's and the
// layer has no wire format (§1.1); EWSP 2 replaces it.
//
// Objects are not safe for concurrent use: a Chain must be used by one
// goroutine at a time. Functions without a receiver are safe.
//
// Byte-exactness: both the signature and the chain hash cover exact bytes,
// so a transport must deliver each packet with its exact text or not at
// all. The outer packet and reference-built inner messages are written by a
// hand-written canonical writer, never encoding/json.
//
// # Known weaknesses of EWSP 1.0
//
// EWSP 1.0 exists for compatibility with devices that speak only the C
// reference; prefer EWSP 2 wherever both ends can. Its design has these
// weaknesses, which no implementation of 1.0 can remove:
//
//   - W1 Malleability leads to desynchronisation. The signature covers the
//     decoded fields, the chain hash the raw bytes: anyone on the path (the
//     relay too) can re-encode a packet (whitespace, key order, "01", "1.9",
//     duplicate or extra keys, an uppercase signature); the receiver then
//     chains to the altered bytes and rejects the honest next packet for
//     ever. PolicyStrict protects Go receivers only.
//   - W2 Replay after a reset. There is no epoch or freshness: once a
//     receiver is back at genesis (new install, lost state, reset), every
//     captured seq-1 packet is valid again. Never reset chain state to
//     genesis without changing the agent token.
//   - W3 No direction or role binding. One key pair serves both directions,
//     so a packet reflected back to its sender is accepted by the reference
//     (PolicyStrict's role check rejects it).
//   - W4 Identity unchecked. The id field is signed but never compared by
//     the reference: one agent token on two devices allows cross-device
//     replay (PolicyStrict compares it). Use one agent token per device.
//   - W5 Unauthenticated cipher: the payload has no tag; integrity comes
//     only from the outer HMAC.
//   - W6 No forward secrecy: the keys are static, derived from the agent
//     token, so recorded traffic plus a later leak of the token reveals
//     everything.
//   - W7 Fragile chains. A device has one chain pair for all its clients,
//     so several clients of one device desynchronise each other; a lost
//     packet breaks the chain; chain_sync and chain_reset are names only,
//     and recovery is a manual reset, which reopens W2.
//   - W8 Offline guessing. The HMAC lets anyone who records a packet test
//     token guesses offline: agent tokens must be machine-generated with at
//     least 128 bits of entropy.
//   - W9 Parser hazards. The reference reader mis-decodes \u escapes, reads
//     signs, fractions and saturated values in numbers, and its error
//     details echo the expected hash; the reference sender cuts ids inside
//     UTF-8 sequences, wraps the payload length at 64 KiB and ignores RNG
//     failures (this package refuses all three).
//   - W10 Reference sessions (not implemented here): a non-standard
//     Poly1305, a counter not bound to the ciphertext, a replay window moved
//     before the tag check, a one-sided ratchet, an idle timer never
//     refreshed, no key exchange and no wire format.
//
// EWSP 2 (Noise NNpsk0 sessions with explicit counters, a replay window and
// direction binding) answers W1–W7, W9 and W10; W8 remains, so high-entropy
// agent tokens are required there too.
package ewsp
