package ewsp

// Vector tests for session.json and replay_window.json. The reference's
// session layer is not implemented (EWSP.md §1.1): these test-only
// computations assert its key schedule and ciphertexts as §1.16 lists,
// nothing else. No production code contains the reference's Poly1305,
// AEAD or session layer.

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20"
)

func testHKDF(t *testing.T, salt, ikm []byte, info string) []byte {
	t.Helper()
	k, err := hkdf.Key(sha256.New, ikm, salt, info, 32)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testHMAC(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// TestVectorSession checks the session key schedule, proofs and ciphertexts.
func TestVectorSession(t *testing.T) {
	forEachCase(t, "session.json", func(t *testing.T, c vcase) {
		switch {
		case c.has("inputs"):
			in, _ := c.obj("inputs")
			cr, dr, sid := in.mustBin(t, "client_random"), in.mustBin(t, "device_random"), in.mustBin(t, "session_id")
			sk := testHKDF(t, in.mustBin(t, "master_key"), append(bytes.Clone(cr), dr...), "wakelink_session_v2")
			enc := testHKDF(t, sk, nil, "encryption")
			auth := testHKDF(t, sk, nil, "authentication")
			binding := testHKDF(t, sk, nil, "binding")
			checked := 0
			for name := range c {
				if !strings.Contains(name, "keys") {
					continue
				}
				o, ok := c.obj(name)
				if !ok {
					continue
				}
				checked++
				o.wantBin(t, "session_key", sk)
				o.wantBin(t, "enc_key", enc)
				o.wantBin(t, "auth_key", auth)
				o.wantBin(t, "binding_key", binding)
				o.wantBin(t, "ratchet_key", sk)
			}
			if checked == 0 {
				t.Error("handshake case without key objects")
			}
			if o, ok := c.obj("session_challenge"); ok {
				o.wantBin(t, "device_proof", testHMAC(binding, dr, cr, sid))
			}
			if o, ok := c.obj("session_confirm"); ok {
				o.wantBin(t, "client_proof", testHMAC(binding, cr, dr, sid))
			}
			if o, ok := c.obj("session_established"); ok {
				o.wantBin(t, "binding_token", testHMAC(binding, sid))
			}
			c.wantBin(t, "device_proof_hmac_input", bytes.Join([][]byte{dr, cr, sid}, nil))
			c.wantBin(t, "client_proof_hmac_input", bytes.Join([][]byte{cr, dr, sid}, nil))
			if o, ok := c.obj("device_derived"); ok {
				sum := sha256.Sum256(cr)
				o.wantBin(t, "client_id", sum[:16])
			}
		case c.has("wire_ciphertext"):
			key, nonce := c.mustBin(t, "enc_key_used"), c.mustBin(t, "nonce")
			pt, _ := c.text(t, "plaintext")
			s, err := chacha20.NewUnauthenticatedCipher(key, nonce)
			if err != nil {
				t.Fatal(err)
			}
			s.SetCounter(1)
			ct := make([]byte, len(pt))
			s.XORKeyStream(ct, pt)
			c.wantBin(t, "wire_ciphertext", ct)
			c.wantBin(t, "wire_nonce", nonce)
			if tag, ok := c.bin(t, "wire_tag"); ok {
				c.wantBin(t, "wire", bytes.Join([][]byte{ct, tag, nonce}, nil))
			}
		case c.has("ratchet_key_after"):
			ctr, _ := c.u64(t, "send_counter")
			le := binary.LittleEndian.AppendUint64(nil, ctr)
			c.wantBin(t, "counter_bytes_little_endian", le)
			r := testHKDF(t, c.mustBin(t, "ratchet_key_before"), le, "ratchet")
			c.wantBin(t, "ratchet_key_after", r)
			c.wantBin(t, "enc_key_after", testHKDF(t, r, nil, "ratchet_enc"))
			c.wantBin(t, "auth_key_after", testHKDF(t, r, nil, "ratchet_auth"))
		default:
			// W10 evidence (timelines, lockouts, capacity, AEAD defects):
			// nothing is asserted (§1.16).
		}
	})
}

// TestVectorReplayWindow loads replay_window.json, evidence of the
// reference's session replay filter (W10): §1.16 asserts nothing of it
// beyond its presence and manifest entry.
func TestVectorReplayWindow(t *testing.T) {
	cases := 0
	forEachCase(t, "replay_window.json", func(t *testing.T, c vcase) { cases++ })
	t.Logf("%d replay-window cases loaded (evidence only)", cases)
}
