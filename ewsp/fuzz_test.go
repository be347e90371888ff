package ewsp

// Fuzz targets (EWSP.md Test plan 7), seeded with the vector inputs. Short
// runs: go test -run='^$' -fuzz='^FuzzOpen$' -fuzztime=10s ./ewsp

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedTexts returns every text value of the default vector directory's files
// whose field name is one of fields (nested objects included).
func seedTexts(f *testing.F, files []string, fields ...string) [][]byte {
	f.Helper()
	var out [][]byte
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				for _, want := range fields {
					switch {
					case k == want:
						if s, ok := x.(string); ok {
							out = append(out, []byte(s))
						}
					case k == want+"_hex":
						if s, ok := x.(string); ok {
							if b, err := hex.DecodeString(s); err == nil {
								out = append(out, b)
							}
						}
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(defaultVectorDir, name))
		if err != nil {
			f.Fatal(err)
		}
		var v any
		if err := decodeJSON(b, &v); err != nil {
			f.Fatal(err)
		}
		walk(v)
	}
	return out
}

// FuzzReader runs the reference reader (find, string, uint, raw) on
// arbitrary input: no panic, and the results stay inside their limits.
func FuzzReader(f *testing.F) {
	for _, s := range seedTexts(f, []string{"json_codec.json", "negative.json", "messages.json"}, "json", "packet_json") {
		f.Add(s, "a")
		f.Add(s, "seq")
		f.Add(s, "d")
	}
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		in := cString(data)
		pos := refFind(in, key)
		s, code := refString(nil, in, key, 64)
		if pos < 0 && code != CodeMissingField || pos >= 0 && code == CodeMissingField {
			t.Fatalf("find %d but string code %v", pos, code)
		}
		if code == CodeOK && len(s) > 64 {
			t.Fatalf("string of %d bytes over max 64", len(s))
		}
		refUint(in, key)
		r, code := refRaw(in, key)
		if code == CodeOK && (len(r) >= maxRawLen || !bytes.HasPrefix(in[pos:], r)) {
			t.Fatalf("raw value %q not a prefix of the value at %d", r, pos)
		}
		checkEnvelope(t, data)
	})
}

// FuzzParseEnvelope checks the one-walk envelope reader against the
// reference functions applied key by key.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range seedTexts(f, []string{"packets.json", "messages.json", "payload.json", "session.json"},
		"inner_json", "json", "plaintext", "data_json", "inner_json_argument") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, inner []byte) { checkEnvelope(t, inner) })
}

// FuzzParseRequest: no panic; an accepted request names a known command and
// is one JSON object.
func FuzzParseRequest(f *testing.F) {
	for _, s := range seedTexts(f, []string{"packets.json", "messages.json"}, "inner_json", "json") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, inner []byte) {
		r, err := ParseRequest(inner)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T", err)
			}
			return
		}
		if !r.Command.Known() || !isJSONObject(inner) || (r.Data != nil && !isJSONObject(r.Data)) {
			t.Fatalf("accepted %q as %+v", inner, r)
		}
	})
}

// FuzzParseReply: no panic; OK iff the code is OK and Err is nil.
func FuzzParseReply(f *testing.F) {
	for _, s := range seedTexts(f, []string{"packets.json", "messages.json"}, "inner_json", "json", "inner_json_argument") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, inner []byte) {
		r := ParseReply(inner)
		if r.OK != (r.Code == CodeOK) || r.OK != (r.Err() == nil) || len(r.RequestID) > RequestIDLen {
			t.Fatalf("inconsistent reply %+v", r)
		}
		if r.Data != nil && !bytes.Contains(inner, r.Data) {
			t.Fatalf("data %q not from the input", r.Data)
		}
	})
}

// FuzzMAC: the strict and lenient parsers agree and normalise stably.
func FuzzMAC(f *testing.F) {
	for _, s := range seedTexts(f, []string{"messages.json"}, "mac") {
		f.Add(string(s))
	}
	for _, s := range []string{"aabb.ccdd.eeff", " AABBCCDDEEFF ", "aa:bb-cc:dd-ee:ff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		n, lerr := ParseMACLenient(s)
		if err == nil {
			if len(s) != 17 || lerr != nil || n != m {
				t.Fatalf("strict %q = %v but lenient %v, %v", s, m, n, lerr)
			}
			if norm, err := NormalizeMAC(s); err != nil || norm != m.String() || !strings.EqualFold(strings.ReplaceAll(s, "-", ":"), norm) {
				t.Fatalf("NormalizeMAC(%q) = %q, %v", s, norm, err)
			}
		} else if codeOf(err) != CodeInvalidParams {
			t.Fatalf("strict error %v", err)
		}
		if lerr == nil {
			if back, err := ParseMAC(n.String()); err != nil || back != n {
				t.Fatalf("lenient %q = %v does not round-trip", s, n)
			}
		} else if codeOf(lerr) != CodeInvalidParams {
			t.Fatalf("lenient error %v", lerr)
		}
	})
}

// FuzzPayloadDecode: no panic; both cipher paths agree; a decodable p
// re-encodes (with its own nonce) to its lowercase form.
func FuzzPayloadDecode(f *testing.F) {
	for _, s := range seedTexts(f, []string{"payload.json", "negative.json"}, "p") {
		f.Add(s, uint16(MaxInnerLen))
	}
	keys, err := deriveKeys([]byte(defaultCaseToken))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p []byte, capacity uint16) {
		generic := newPayloadCipher(&keys.enc)
		generic.aead = nil
		pt, code := generic.decodePayload(nil, p, int(capacity))
		fast := newPayloadCipher(&keys.enc)
		pt2, code2 := fast.decodePayload(nil, p, int(capacity))
		if code != code2 || !bytes.Equal(pt, pt2) {
			t.Fatalf("cipher paths disagree: %v %q / %v %q", code, pt, code2, pt2)
		}
		if code != CodeOK {
			return
		}
		if len(pt) > int(capacity) {
			t.Fatalf("plaintext of %d bytes over capacity %d", len(pt), capacity)
		}
		raw, _ := hex.DecodeString(string(p))
		again, code := generic.appendPayload(nil, pt, (*[NonceSize]byte)(raw[len(raw)-NonceSize:]))
		if code != CodeOK || !bytes.Equal(again, bytes.ToLower(p)) {
			t.Fatalf("re-encoding %q gave %q", p, again)
		}
	})
}

// FuzzOpen feeds arbitrary packets and receive states to Open under both
// policies: no panic; an error leaves the state unchanged; Strict accepts
// nothing whose canonical re-encoding differs from the input, and nothing
// the Reference policy rejects; the canonical fast path reads exactly what
// the reference reader reads.
func FuzzOpen(f *testing.F) {
	seeds := map[string]bool{}
	for _, name := range []string{"packets.json", "negative.json"} {
		cases, _ := loadSeedCases(f, name)
		for _, c := range cases {
			for _, k := range []string{"outer_json", "packet_json"} {
				if s, ok := c[k].(string); ok && !seeds[s] {
					seeds[s] = true
					st := seedState(c)
					f.Add([]byte(s), st.RxSeq, st.RxLastHash[:], false)
					f.Add([]byte(s), st.RxSeq, st.RxLastHash[:], true)
				}
			}
		}
	}
	keys, err := deriveKeys([]byte(defaultCaseToken))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, packet []byte, rxSeq uint64, rxHash []byte, client bool) {
		role := RoleDevice
		if client {
			role = RoleClient
		}
		var st State
		st.RxSeq, st.TxSeq = rxSeq, 7
		copy(st.RxLastHash[:], rxHash)
		ref := newChain(keys, []byte(defaultCaseID), role, Config{Policy: PolicyReference})
		strict := newChain(keys, []byte(defaultCaseID), role, Config{Policy: PolicyStrict})
		ref.SetState(st)
		strict.SetState(st)
		rm, rerr := ref.Open(nil, packet)
		sm, serr := strict.Open(nil, packet)
		for _, r := range []struct {
			c   *Chain
			err error
		}{{ref, rerr}, {strict, serr}} {
			if r.err != nil {
				if _, ok := r.err.(*Error); !ok {
					t.Fatalf("error %T", r.err)
				}
				if r.c.State() != st {
					t.Fatalf("%s: error %v changed the state", r.c.policy, r.err)
				}
			}
		}
		if serr == nil {
			if rerr != nil || rm.Hash != sm.Hash || !bytes.Equal(rm.Inner, sm.Inner) {
				t.Fatalf("strict accepted what reference did not: %v", rerr)
			}
			var g outer
			if bytes.IndexByte(packet, 0) >= 0 || !parseReferencePacket(packet, &g, make([]byte, readerBufLen)) ||
				!bytes.Equal(appendPacket(nil, &g), packet) {
				t.Fatalf("strict accepted a non-canonical packet %q", packet)
			}
		}
		// The canonical fast path is a subset of the reference reader.
		in := cString(packet)
		var fast, slow outer
		if parseCanonicalPacket(in, &fast, make([]byte, MaxPayloadHexLen/2), []byte(st.RxLastHash.String())) {
			if !parseReferencePacket(in, &slow, make([]byte, readerBufLen)) ||
				!bytes.Equal(fast.v, slow.v) || !bytes.Equal(fast.id, slow.id) || fast.seq != slow.seq ||
				!bytes.Equal(fast.prev, slow.prev) || !bytes.Equal(fast.p, slow.p) || !bytes.Equal(fast.sig, slow.sig) ||
				!bytes.Equal(appendPacket(nil, &slow), in) {
				t.Fatalf("fast path and reference reader disagree on %q", in)
			}
		}
	})
}

func loadSeedCases(f *testing.F, name string) ([]vcase, bool) {
	b, err := os.ReadFile(filepath.Join(defaultVectorDir, name))
	if err != nil {
		f.Fatal(err)
	}
	var file struct {
		Cases []vcase `json:"cases"`
	}
	if err := decodeJSON(b, &file); err != nil {
		f.Fatal(err)
	}
	return file.Cases, true
}

// seedState returns the receiver state recorded in a case, if any.
func seedState(c vcase) State {
	for _, k := range []string{"receiver", "device_receives", "client_receives"} {
		r, ok := c.obj(k)
		if !ok {
			continue
		}
		b, ok := r.obj("receiver_state_before")
		if !ok {
			continue
		}
		var st State
		if n, ok := b["rx_seq"].(interface{ String() string }); ok {
			var u uint64
			for _, ch := range n.String() {
				u = u*10 + uint64(ch-'0')
			}
			st.RxSeq = u
		}
		if s, ok := b["rx_last_hash"].(string); ok {
			if h, err := ParseHash(s); err == nil {
				st.RxLastHash = h
			}
		}
		return st
	}
	return State{}
}
