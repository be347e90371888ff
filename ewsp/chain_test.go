package ewsp

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

const testToken = "wlk_5f1c0a2b3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"

// testRand is a deterministic byte source for tests (not for keys).
type testRand struct{ r *rand.ChaCha8 }

func newTestRand(seed byte) *testRand {
	var s [32]byte
	s[0] = seed
	return &testRand{rand.NewChaCha8(s)}
}

func (t *testRand) Read(b []byte) (int, error) { return t.r.Read(b) }

func mustChain(t testing.TB, id string, role Role, policy Policy, r io.Reader) *Chain {
	t.Helper()
	c, err := NewChain([]byte(testToken), id, role, Config{Rand: r, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// randomDeviceID returns 1–32 bytes of valid UTF-8 without control bytes,
// including characters the canonical writer escapes.
func randomDeviceID(r *rand.Rand) string {
	alphabet := []rune{'W', 'L', '0', '9', 'z', '"', '\\', '/', '<', '&', ' ', '\x7f', 'é', '漢', '🔑'}
	var b []byte
	for {
		c := alphabet[r.IntN(len(alphabet))]
		if len(b)+utf8.RuneLen(c) > MaxDeviceIDLen {
			break
		}
		b = utf8.AppendRune(b, c)
		if r.IntN(8) == 0 {
			break
		}
	}
	return string(b)
}

// requestOfSize returns a request inner of exactly n bytes (n >= 40), or a
// non-JSON filler for smaller n (a reply by §1.8's rules).
func requestOfSize(n int) []byte {
	const head, tail = `{"cmd":"ping","d":{"x":"`, `"},"rid":"ABCD1234"}`
	if n < len(head)+len(tail) {
		return bytes.Repeat([]byte{'.'}, n)
	}
	return []byte(head + strings.Repeat("y", n-len(head)-len(tail)) + tail)
}

func replyOfSize(n int) []byte {
	const head, tail = `{"status":"ok","d":{"x":"`, `"},"rid":"ABCD1234"}`
	if n < len(head)+len(tail) {
		return bytes.Repeat([]byte{'.'}, n)
	}
	return []byte(head + strings.Repeat("z", n-len(head)-len(tail)) + tail)
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 63, 64, 65, 128, 2047} {
		for _, policy := range []Policy{PolicyStrict, PolicyReference} {
			id := randomDeviceID(r)
			t.Run(fmt.Sprintf("%d/%s/%q", n, policy, id), func(t *testing.T) {
				client := mustChain(t, id, RoleClient, policy, newTestRand(1))
				device := mustChain(t, id, RoleDevice, policy, newTestRand(2))
				req, rep := requestOfSize(n), replyOfSize(n)
				if n < 40 && policy == PolicyStrict {
					// A non-JSON inner is a reply: Strict's H4 lets it reach
					// clients only, so send it device -> client only.
					req = nil
				}
				if req != nil {
					pkt, err := client.Seal(nil, req)
					if err != nil {
						t.Fatal(err)
					}
					m, err := device.Open(nil, pkt)
					if err != nil {
						t.Fatalf("device.Open: %v\n%s", err, pkt)
					}
					if !bytes.Equal(m.Inner, req) || m.Seq != 1 || m.Hash != sha256.Sum256(pkt) {
						t.Errorf("device got %q seq %d", m.Inner, m.Seq)
					}
					if client.State().TxLastHash != device.State().RxLastHash {
						t.Error("chains disagree after the request")
					}
				}
				pkt, err := device.Seal(nil, rep)
				if err != nil {
					t.Fatal(err)
				}
				m, err := client.Open(nil, pkt)
				if err != nil {
					t.Fatalf("client.Open: %v\n%s", err, pkt)
				}
				if !bytes.Equal(m.Inner, rep) || !m.IsResponse {
					t.Errorf("client got %q (response %t)", m.Inner, m.IsResponse)
				}
			})
		}
	}
}

func TestLongChain(t *testing.T) {
	const n = 10000
	client := mustChain(t, "WL35080814", RoleClient, PolicyStrict, newTestRand(3))
	device := mustChain(t, "WL35080814", RoleDevice, PolicyStrict, nil)
	inner := requestOfSize(96)
	var pkt, out []byte
	for i := 1; i <= n; i++ {
		var err error
		if pkt, err = client.Seal(pkt[:0], inner); err != nil {
			t.Fatal(err)
		}
		m, err := device.Open(out[:0], pkt)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		out = m.Inner
		if m.Seq != uint64(i) || !bytes.Equal(m.Inner, inner) {
			t.Fatalf("packet %d: seq %d", i, m.Seq)
		}
	}
	cs, ds := client.State(), device.State()
	if cs.TxSeq != n || ds.RxSeq != n || cs.TxLastHash != ds.RxLastHash {
		t.Errorf("after %d packets: client %+v, device %+v", n, cs, ds)
	}
}

// TestConversation interleaves requests and replies, each side sending on
// its own tx chain (the vectors' conversation_* rule), with SealRequest and
// typed replies.
func TestConversation(t *testing.T) {
	client := mustChain(t, "WL00C0FFEE", RoleClient, PolicyStrict, newTestRand(4))
	device := mustChain(t, "WL00C0FFEE", RoleDevice, PolicyStrict, newTestRand(5))
	for round := range 50 {
		wake, err := WakeRequest{MAC: "aa-bb-cc-dd-ee-ff"}.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		pkt, rid, err := client.SealRequest(nil, CmdWake, wake)
		if err != nil {
			t.Fatal(err)
		}
		m, err := device.Open(nil, pkt)
		if err != nil {
			t.Fatalf("round %d: device: %v", round, err)
		}
		req, err := ParseRequest(m.Inner)
		if err != nil || req.Command != CmdWake || req.RequestID != rid || m.RequestID != rid {
			t.Fatalf("round %d: request %+v, %v (rid %s)", round, req, err, rid)
		}
		w, err := ParseWakeRequest(req.Data)
		if err != nil {
			t.Fatal(err)
		}
		mac, _ := ParseMAC(w.MAC)
		data := WakeReply{Sent: true, Target: mac.String()}.AppendJSON(nil)
		inner, err := AppendReply(nil, "ok", data, req.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if pkt, err = device.Seal(nil, inner); err != nil {
			t.Fatal(err)
		}
		rm, err := client.Open(nil, pkt)
		if err != nil {
			t.Fatalf("round %d: client: %v", round, err)
		}
		reply := ParseReply(rm.Inner)
		var wr WakeReply
		if !reply.OK || reply.RequestID != rid || DecodeData(reply.Data, &wr) != nil || wr.Target != "AA:BB:CC:DD:EE:FF" {
			t.Fatalf("round %d: reply %+v %+v", round, reply, wr)
		}
	}
	if s := client.State(); s.TxSeq != 50 || s.RxSeq != 50 {
		t.Errorf("client state %+v", s)
	}
}

// TestStateExportImport persists both chains as JSON midway, rebuilds them
// from the token and continues.
func TestStateExportImport(t *testing.T) {
	client := mustChain(t, "WL1", RoleClient, PolicyStrict, nil)
	device := mustChain(t, "WL1", RoleDevice, PolicyStrict, nil)
	exchange := func(c, d *Chain, n int) {
		t.Helper()
		for range n {
			pkt, _, err := c.SealRequest(nil, CmdPing, nil)
			if err != nil {
				t.Fatal(err)
			}
			m, err := d.Open(nil, pkt)
			if err != nil {
				t.Fatal(err)
			}
			pkt, err = d.Seal(nil, AppendPong(nil, m.RequestID))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Open(nil, pkt); err != nil {
				t.Fatal(err)
			}
		}
	}
	exchange(client, device, 3)
	saved := map[string][]byte{}
	for name, c := range map[string]*Chain{"client": client, "device": device} {
		b, err := json.Marshal(c.State())
		if err != nil {
			t.Fatal(err)
		}
		saved[name] = b
	}
	if !bytes.Contains(saved["client"], []byte(`"tx_seq":3,"tx_last_hash":"`)) {
		t.Errorf("state JSON: %s", saved["client"])
	}
	client2 := mustChain(t, "WL1", RoleClient, PolicyStrict, nil)
	device2 := mustChain(t, "WL1", RoleDevice, PolicyStrict, nil)
	for name, c := range map[string]*Chain{"client": client2, "device": device2} {
		var s State
		if err := json.Unmarshal(saved[name], &s); err != nil {
			t.Fatal(err)
		}
		c.SetState(s)
	}
	if client2.State() != client.State() || device2.State() != device.State() {
		t.Fatal("imported state differs from the exported one")
	}
	exchange(client2, device2, 3)
	if s := client2.State(); s.TxSeq != 6 || s.RxSeq != 6 {
		t.Errorf("after import and 3 more: %+v", s)
	}
	// A fresh chain (genesis) cannot continue: CHAIN_BROKEN or REPLAY, never silence.
	fresh := mustChain(t, "WL1", RoleDevice, PolicyStrict, nil)
	pkt, _, _ := client2.SealRequest(nil, CmdPing, nil)
	if _, err := fresh.Open(nil, pkt); !errors.Is(err, ErrSeqJumpTooLarge) && !errors.Is(err, ErrChainBroken) {
		t.Errorf("genesis receiver accepted seq 7: %v", err)
	}
}

func TestNewChainRefuses(t *testing.T) {
	tests := []struct {
		name  string
		token string
		id    string
		role  Role
		cfg   Config
		code  Code
	}{
		{"short token", strings.Repeat("t", 31), "WL1", RoleClient, Config{}, CodeTokenTooShort},
		{"empty token", "", "WL1", RoleClient, Config{}, CodeTokenTooShort},
		{"token with 0x00", testToken + "\x00", "WL1", RoleClient, Config{}, CodeInvalidToken},
		{"short token with 0x00 (token first)", "a\x00", "", RoleClient, Config{}, CodeInvalidToken},
		{"empty id", testToken, "", RoleClient, Config{}, CodeInvalidParams},
		{"33-byte id", testToken, strings.Repeat("W", 33), RoleClient, Config{}, CodeInvalidParams},
		{"id cut inside UTF-8", testToken, strings.Repeat("W", 30) + "\xe6\xbc", RoleClient, Config{}, CodeInvalidParams},
		{"id with LF", testToken, "WL\n1", RoleClient, Config{}, CodeInvalidParams},
		{"id with 0x00", testToken, "WL\x001", RoleClient, Config{}, CodeInvalidParams},
		{"no role", testToken, "WL1", 0, Config{}, CodeInvalidParams},
		{"bad policy", testToken, "WL1", RoleDevice, Config{Policy: 7}, CodeInvalidParams},
	}
	for _, tt := range tests {
		c, err := NewChain([]byte(tt.token), tt.id, tt.role, tt.cfg)
		if c != nil || codeOf(err) != tt.code {
			t.Errorf("%s: got %v, want code %d", tt.name, err, tt.code)
		}
	}
	if _, err := NewChain([]byte(strings.Repeat("t", 32)), strings.Repeat("é", 16), RoleDevice, Config{}); err != nil {
		t.Errorf("32-byte token and 32-byte UTF-8 id: %v", err)
	}
}

func TestSealRefuses(t *testing.T) {
	c := mustChain(t, "WL1", RoleClient, PolicyStrict, nil)
	before := c.State()
	if _, err := c.Seal(nil, make([]byte, MaxInnerLen+1)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("2048-byte inner: %v", err)
	}
	if _, _, err := c.SealRequest(nil, CmdWake, []byte(`{"mac":"`+strings.Repeat("x", 2048)+`"}`)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("oversized request: %v", err)
	}
	if _, _, err := c.SealRequest(nil, "PING", nil); !errors.Is(err, ErrUnknownCommand) {
		t.Errorf("unknown command: %v", err)
	}
	if _, _, err := c.SealRequest(nil, CmdWake, []byte(`[1]`)); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("data not an object: %v", err)
	}
	if c.State() != before {
		t.Error("refused seals changed the state")
	}

	// The last sequence number, then refusal.
	c.SetState(State{TxSeq: MaxSeq - 1})
	if _, err := c.Seal(nil, nil); err != nil {
		t.Fatalf("seq 2^63-1: %v", err)
	}
	at := c.State()
	if at.TxSeq != MaxSeq {
		t.Fatalf("tx_seq %d", at.TxSeq)
	}
	if _, err := c.Seal(nil, nil); !errors.Is(err, ErrBadSequence) {
		t.Errorf("past 2^63-1: %v", err)
	}
	if _, _, err := c.SealRequest(nil, CmdPing, nil); !errors.Is(err, ErrBadSequence) {
		t.Errorf("request past 2^63-1: %v", err)
	}
	c.SetState(State{TxSeq: 1<<64 - 1})
	if _, err := c.Seal(nil, nil); !errors.Is(err, ErrBadSequence) {
		t.Errorf("imported tx_seq 2^64-1: %v", err)
	}
	if c.State().TxSeq != 1<<64-1 {
		t.Error("refused seal changed the state")
	}
}

type failingReader struct{ n int }

var errBroken = errors.New("entropy source broken")

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBroken
	}
	k := min(f.n, len(b))
	f.n -= k
	return k, nil
}

func TestRandomFailure(t *testing.T) {
	for _, avail := range []int{0, 5, 8, 31} {
		c := mustChain(t, "WL1", RoleClient, PolicyStrict, &failingReader{avail})
		_, _, err := c.SealRequest(nil, CmdPing, nil)
		if !errors.Is(err, ErrEncryptFailed) || !errors.Is(err, errBroken) {
			t.Errorf("%d bytes available: %v", avail, err)
		}
		if c.State() != (State{}) {
			t.Error("failed seal changed the state")
		}
	}
	// SealRequest draws the rid, then the nonce, from the one source.
	src := bytes.Repeat([]byte{0}, 32)
	copy(src, []byte{0x17, 0x45, 0x52, 0x88, 0x9c, 0xd7, 0xe7, 0x1b})
	c := mustChain(t, "WL1", RoleClient, PolicyStrict, bytes.NewReader(src))
	pkt, rid, err := c.SealRequest(nil, CmdPing, nil)
	if err != nil || rid != "X7K2M9P1" {
		t.Fatalf("rid %q, %v", rid, err)
	}
	if !bytes.Contains(pkt, []byte(strings.Repeat("00", NonceSize)+`","sig"`)) {
		t.Errorf("nonce is not the 24 bytes after the rid: %s", pkt)
	}
}

func TestOpenInputBounds(t *testing.T) {
	for _, policy := range []Policy{PolicyStrict, PolicyReference} {
		d := mustChain(t, "WL1", RoleDevice, policy, nil)
		big := append([]byte(`{"v":"1.0",`), bytes.Repeat([]byte(" "), MaxPacketLen)...)
		if _, err := d.Open(nil, big); !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: 65 KB input: %v", policy, err)
		}
		for _, in := range []string{"", "{", "null", "\x00", `{"v":"1.0"}`} {
			if _, err := d.Open(nil, []byte(in)); !errors.Is(err, ErrBadPacket) {
				t.Errorf("%s: %q: %v", policy, in, err)
			}
		}
		if d.State() != (State{}) {
			t.Error("rejected input changed the state")
		}
	}
}

// TestOpenCString: bytes from the first 0x00 on are ignored by the reference
// (and by its chain hash); Strict rejects any 0x00.
func TestOpenCString(t *testing.T) {
	client := mustChain(t, "WL1", RoleClient, PolicyStrict, nil)
	pkt, _, err := client.SealRequest(nil, CmdPing, nil)
	if err != nil {
		t.Fatal(err)
	}
	tainted := append(append(bytes.Clone(pkt), 0), "garbage"...)
	ref := mustChain(t, "WL1", RoleDevice, PolicyReference, nil)
	m, err := ref.Open(nil, tainted)
	if err != nil || m.Hash != sha256.Sum256(pkt) {
		t.Errorf("reference: %v (hash of the bytes before 0x00 expected)", err)
	}
	strict := mustChain(t, "WL1", RoleDevice, PolicyStrict, nil)
	if _, err := strict.Open(nil, tainted); !errors.Is(err, ErrBadPacket) {
		t.Errorf("strict: %v", err)
	}
}

// TestOpenInPlace: the packet's storage can receive the inner text.
func TestOpenInPlace(t *testing.T) {
	for _, policy := range []Policy{PolicyStrict, PolicyReference} {
		client := mustChain(t, "W\\L", RoleClient, policy, nil) // escaped id: reference-reader path
		device := mustChain(t, "W\\L", RoleDevice, policy, nil)
		for _, n := range []int{64, MaxInnerLen} {
			inner := requestOfSize(n)
			pkt, err := client.Seal(nil, inner)
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(pkt)
			m, err := device.Open(pkt[:0], pkt)
			if err != nil || !bytes.Equal(m.Inner, inner) || m.Hash != want {
				t.Errorf("%s/%d: in-place Open: %v", policy, n, err)
			}
		}
	}
}

// TestStrictPredicates exercises H1–H4 on Go-made packets.
func TestStrictPredicates(t *testing.T) {
	seal := func(id string, inner []byte) []byte {
		c := mustChain(t, id, RoleClient, PolicyStrict, nil)
		pkt, err := c.Seal(nil, inner)
		if err != nil {
			t.Fatal(err)
		}
		return pkt
	}
	req := requestOfSize(80)
	open := func(policy Policy, role Role, id string, pkt []byte) error {
		_, err := mustChain(t, id, role, policy, nil).Open(nil, pkt)
		return err
	}
	pkt := seal("WL1", req)
	// H1: whitespace, reordering.
	spaced := bytes.Replace(pkt, []byte(`,"seq":`), []byte(`, "seq":`), 1)
	if open(PolicyReference, RoleDevice, "WL1", spaced) != nil || !errors.Is(open(PolicyStrict, RoleDevice, "WL1", spaced), ErrBadPacket) {
		t.Error("H1: a spaced packet must pass Reference and fail Strict")
	}
	// H2: uppercase signature.
	i := bytes.LastIndex(pkt, []byte(`"sig":"`)) + len(`"sig":"`)
	upper := append(append(bytes.Clone(pkt[:i]), bytes.ToUpper(pkt[i:len(pkt)-2])...), `"}`...)
	if open(PolicyReference, RoleDevice, "WL1", upper) != nil || !errors.Is(open(PolicyStrict, RoleDevice, "WL1", upper), ErrBadPacket) {
		t.Error("H2: an uppercase signature must pass Reference and fail Strict")
	}
	// H3: another device id under the same token.
	if open(PolicyReference, RoleDevice, "WL2", pkt) != nil || !errors.Is(open(PolicyStrict, RoleDevice, "WL2", pkt), ErrBadPacket) {
		t.Error("H3: a foreign id must pass Reference and fail Strict")
	}
	// H4: a request reflected to a client.
	if open(PolicyReference, RoleClient, "WL1", pkt) != nil || !errors.Is(open(PolicyStrict, RoleClient, "WL1", pkt), ErrBadPacket) {
		t.Error("H4: a request at a client must pass Reference and fail Strict")
	}
	// Escaped ids are canonical: Strict accepts them (reference-reader path).
	for _, id := range []string{`W"L`, `W\L`, `\"`, "é/<>&\x7f"} {
		if err := open(PolicyStrict, RoleDevice, id, seal(id, req)); err != nil {
			t.Errorf("strict with id %q: %v", id, err)
		}
	}
	// A canonical packet of another version keeps BAD_VERSION under Strict.
	v2 := bytes.Replace(pkt, []byte(`"v":"1.0"`), []byte(`"v":"2.0"`), 1)
	if err := open(PolicyStrict, RoleDevice, "WL1", v2); !errors.Is(err, ErrBadVersion) {
		t.Errorf("v 2.0 under strict: %v", err)
	}
}

// TestCanonicalProperty: Encode(Parse(x)) == x for every packet Go writes,
// and Parse(Encode(f)) == f for valid fields.
func TestCanonicalProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	buf := make([]byte, readerBufLen)
	for range 300 {
		id := randomDeviceID(r)
		c := mustChain(t, id, RoleClient, PolicyStrict, nil)
		c.SetState(State{TxSeq: r.Uint64N(MaxSeq)})
		pkt, err := c.Seal(nil, requestOfSize(40+r.IntN(MaxInnerLen-40)))
		if err != nil {
			t.Fatal(err)
		}
		var f outer
		if !parseReferencePacket(pkt, &f, buf) {
			t.Fatalf("unreadable: %s", pkt)
		}
		if got := appendPacket(nil, &f); !bytes.Equal(got, pkt) {
			t.Fatalf("Encode(Parse(x)) != x:\n%s\n%s", got, pkt)
		}
		var g outer
		fast := parseCanonicalPacket(pkt, &g, make([]byte, MaxPayloadHexLen/2), nil)
		if needsEscape([]byte(id)) == fast {
			t.Errorf("id %q: fast path %t", id, fast)
		}
	}
	// Valid fields: within the reader's limits, no 0x00, no control byte the
	// reader cannot read back (LF, CR and TAB read back).
	text := func(max int) []byte {
		const chars = "abcXYZ09\"\\/\n\r\té漢 {}[],:"
		var b []byte
		for n := r.IntN(max + 1); len(b) < n; {
			c := chars[r.IntN(len(chars))]
			if len(b)+1 > max {
				break
			}
			b = append(b, c)
		}
		return b
	}
	for range 2000 {
		f := outer{v: text(MaxVersionLen), id: text(MaxDeviceIDLen), seq: r.Uint64N(MaxSeq + 1),
			prev: text(MaxPrevLen), p: text(200), sig: text(MaxSigLen)}
		enc := appendPacket(nil, &f)
		var g outer
		if !parseReferencePacket(enc, &g, buf) {
			t.Fatalf("Parse(Encode(f)) failed for %s", enc)
		}
		if !bytes.Equal(g.v, f.v) || !bytes.Equal(g.id, f.id) || g.seq != f.seq ||
			!bytes.Equal(g.prev, f.prev) || !bytes.Equal(g.p, f.p) || !bytes.Equal(g.sig, f.sig) {
			t.Fatalf("Parse(Encode(f)) != f for %s", enc)
		}
	}
}

// TestReflection: the reference accepts a packet reflected to its sender
// (W3); Strict's role check refuses a reply at a device.
func TestReflection(t *testing.T) {
	for _, policy := range []Policy{PolicyReference, PolicyStrict} {
		device := mustChain(t, "WL1", RoleDevice, policy, nil)
		pkt, err := device.Seal(nil, AppendOK(nil, "ABCD1234"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = device.Open(nil, pkt)
		if policy == PolicyReference && err != nil {
			t.Errorf("reference refused its own reflected packet: %v", err)
		}
		if policy == PolicyStrict && !errors.Is(err, ErrBadPacket) {
			t.Errorf("strict accepted a reflected reply: %v", err)
		}
	}
}

func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	for _, policy := range []Policy{PolicyStrict, PolicyReference} {
		client := mustChain(t, "WL35080814", RoleClient, policy, nil)
		device := mustChain(t, "WL35080814", RoleDevice, policy, nil)
		for _, n := range []int{128, MaxInnerLen} {
			inner := requestOfSize(n)
			buf := make([]byte, 0, MaxCanonicalPacketLen)
			seal := testing.AllocsPerRun(200, func() {
				if _, err := client.Seal(buf[:0], inner); err != nil {
					t.Fatal(err)
				}
			})
			client.SetState(State{})
			pkt, _ := client.Seal(nil, inner)
			st := State{}
			out := make([]byte, 0, MaxInnerLen)
			open := testing.AllocsPerRun(200, func() {
				device.SetState(st)
				if _, err := device.Open(out[:0], pkt); err != nil {
					t.Fatal(err)
				}
			})
			if seal > 2 || open > 2 {
				t.Errorf("%s/%d: Seal %.1f allocs, Open %.1f allocs; want <= 2", policy, n, seal, open)
			}
			t.Logf("%s/%d: Seal %.1f allocs, Open %.1f allocs", policy, n, seal, open)
		}
	}
}
