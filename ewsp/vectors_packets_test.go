package ewsp

// Vector tests for packets.json and negative.json: builds and receivers,
// under both receive policies (EWSP.md §1.9, §1.16).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// newReferenceReceiverForTest builds the receiver the reference would have
// for an agent token or device id that Go refuses: the token up to its
// first 0x00 (as the reference reads it; the 32-byte rule stays) and the id
// as recorded, unchecked. Test-only: production code has no bypass.
func newReferenceReceiverForTest(t *testing.T, token, id []byte, role Role) *Chain {
	t.Helper()
	tok := cString(token)
	if len(tok) < MinTokenLen {
		t.Fatalf("the reference cannot build a receiver with a %d-byte token", len(tok))
	}
	keys, err := deriveKeys(tok)
	if err != nil {
		t.Fatal(err)
	}
	return newChain(keys, id, role, Config{Policy: PolicyReference})
}

// sealReferenceReplyForTest reproduces the reference's dedicated reply
// builder (ewsp_packet_create_response), which puts the last received hash
// in prev. Its own receiver rejects the result (CHAIN_BROKEN); Go offers no
// such builder (§1.7).
func sealReferenceReplyForTest(c *Chain, dst, inner []byte) ([]byte, error) {
	prev := c.st.RxLastHash
	return c.seal(dst, inner, &prev)
}

// vectorState reads a recorded chain state.
func vectorState(t *testing.T, s vcase) State {
	t.Helper()
	var st State
	st.TxSeq, _ = s.u64(t, "tx_seq")
	st.RxSeq, _ = s.u64(t, "rx_seq")
	if h, ok := s.bin(t, "tx_last_hash"); ok {
		copy(st.TxLastHash[:], h)
	}
	if h, ok := s.bin(t, "rx_last_hash"); ok {
		copy(st.RxLastHash[:], h)
	} else if h, ok := s.bin(t, "last_received_hash"); ok {
		copy(st.RxLastHash[:], h)
	}
	return st
}

// wantState compares got with a recorded state; rx_last_hash and
// last_received_hash are both compared with Go's RxLastHash.
func wantState(t *testing.T, what string, s vcase, got State) {
	t.Helper()
	check := func(k string, g uint64) {
		if w, ok := s.u64(t, k); ok && w != g {
			t.Errorf("%s.%s: got %d, want %d", what, k, g, w)
		}
	}
	checkHash := func(k string, g Hash) {
		if w, ok := s.bin(t, k); ok && !bytes.Equal(w, g[:]) {
			t.Errorf("%s.%s: got %s, want %x", what, k, g, w)
		}
	}
	check("tx_seq", got.TxSeq)
	check("rx_seq", got.RxSeq)
	checkHash("tx_last_hash", got.TxLastHash)
	checkHash("rx_last_hash", got.RxLastHash)
	checkHash("last_received_hash", got.RxLastHash)
}

// TestVectorPackets checks packets.json: every build byte for byte from the
// recorded RNG bytes (or Go's refusal where the contract says Go refuses),
// and every receiver under both policies.
func TestVectorPackets(t *testing.T) {
	runs, diffs := 0, 0
	defer func() { t.Logf("strict differs from reference on %d of %d receivers", diffs, runs) }()
	forEachCase(t, "packets.json", func(t *testing.T, c vcase) {
		checkBuild(t, c)
		receivers := 0
		for _, k := range []string{"device_receives", "client_receives", "receiver"} {
			r, ok := c.obj(k)
			if !ok {
				continue
			}
			receivers++
			role := RoleDevice
			if k == "client_receives" {
				role = RoleClient
			}
			t.Run(k, func(t *testing.T) {
				runs++
				if checkReceiver(t, c, r, c.mustText(t, "outer_json"), role) {
					diffs++
				}
			})
		}
		if receivers == 0 && !c.has("outer_json") {
			t.Error("case has neither a build nor a receiver")
		}
	})
}

// TestVectorNegative checks negative.json: every packet under both policies,
// with the exact code and the state after (unchanged on error).
func TestVectorNegative(t *testing.T) {
	runs, diffs := 0, 0
	defer func() { t.Logf("strict differs from reference on %d of %d cases", diffs, runs) }()
	forEachCase(t, "negative.json", func(t *testing.T, c vcase) {
		packet := c.mustText(t, "packet_json")
		c.wantU64(t, "packet_json_len", uint64(len(packet)))
		r, ok := c.obj("receiver")
		if !ok {
			t.Fatal("case has no receiver")
		}
		runs++
		if checkReceiver(t, c, r, packet, RoleDevice) {
			diffs++
		}
	})
}

// checkBuild rebuilds a packet of packets.json from its recorded inputs.
func checkBuild(t *testing.T, c vcase) {
	t.Helper()
	if !c.has("rng_bytes_for_nonce") {
		return // not a build
	}
	token := caseToken(t, c)
	caseID := caseDeviceID(t, c)
	if arg, ok := c.text(t, "device_id_argument"); ok {
		if want := goRefusal(token, arg); want != CodeOK {
			// The reference accepted (and maybe cut) this id; Go refuses it.
			_, err := NewChain(token, string(arg), RoleClient, Config{})
			if codeOf(err) != want {
				t.Errorf("NewChain with device_id_argument %q: got %v, want code %d", arg, err, want)
			}
		} else {
			caseID = arg
		}
	}
	if want := goRefusal(token, caseID); want != CodeOK {
		_, err := NewChain(token, string(caseID), RoleClient, Config{})
		if codeOf(err) != want {
			t.Errorf("NewChain(%q): got %v, want code %d", caseID, err, want)
		}
		return
	}

	rng := c.mustBin(t, "rng_bytes_for_nonce")
	if rid, ok := c.bin(t, "rng_bytes_for_rid"); ok {
		rng = append(rid, rng...)
	}
	ch, err := NewChain(token, string(caseID), RoleClient, Config{Rand: bytes.NewReader(rng)})
	if err != nil {
		t.Fatal(err)
	}
	sender, ok := c.obj("sender_state_before")
	if !ok {
		t.Fatal("build without sender_state_before")
	}
	ch.SetState(vectorState(t, sender))
	before := ch.State()

	// The inner the reference built decides Go's size refusal.
	recordedInner, _ := c.text(t, "inner_json")
	var wantRefusal Code
	switch {
	case len(recordedInner) > MaxInnerLen:
		wantRefusal = CodePayloadTooLarge
	case before.TxSeq >= MaxSeq:
		wantRefusal = CodeBadSequence
	}

	var pkt []byte
	var inner []byte
	var rid string
	if cmd, ok := c.text(t, "command"); ok {
		data, _ := c.text(t, "data_json_argument")
		pkt, rid, err = ch.SealRequest(nil, Command(cmd), data)
		inner = ch.inner
	} else {
		inner = c.mustText(t, "inner_json_argument")
		if api, _ := c.str(t, "api"); api == "ewsp_packet_create_response" {
			pkt, err = sealReferenceReplyForTest(ch, nil, inner)
		} else {
			pkt, err = ch.Seal(nil, inner)
		}
	}
	if wantRefusal != CodeOK {
		if codeOf(err) != wantRefusal {
			t.Errorf("build: got %v, want Go's refusal %d", err, wantRefusal)
		}
		if ch.State() != before {
			t.Error("a refused build changed the state")
		}
		return
	}
	if want, ok := c.i64(t, "create_result"); ok && want != 0 {
		c.wantCode(t, "create_result", codeOf(err))
		return
	}
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	c.wantCode(t, "create_result", CodeOK)
	if c.has("rid") {
		c.wantText(t, "rid", []byte(rid))
	}
	c.wantText(t, "inner_json", inner)

	// Read Go's packet back with the reference reader for the field checks.
	in := cString(pkt)
	var f outer
	if !parseReferencePacket(in, &f, make([]byte, readerBufLen)) {
		t.Fatalf("Go built a packet the reference reader cannot read: %s", pkt)
	}
	raw, err := hex.DecodeString(string(f.p))
	if err != nil || len(raw) < NonceSize {
		t.Fatalf("p of Go's packet: %v", err)
	}
	c.wantBin(t, "payload_nonce", raw[len(raw)-NonceSize:])
	c.wantU64(t, "seq", f.seq)
	c.wantText(t, "prev", f.prev)
	c.wantText(t, "sig_input", append(appendSigPrefix(nil, f.v, f.id, f.seq, f.prev), f.p...))
	c.wantText(t, "sig", f.sig)
	c.wantText(t, "outer_json", pkt)
	sum := sha256.Sum256(pkt)
	c.wantBin(t, "packet_hash_sha256_of_outer_json", sum[:])
	if ch.State().TxLastHash != sum {
		t.Errorf("tx_last_hash %s is not the SHA-256 of the packet %x", ch.State().TxLastHash, sum)
	}
	if after, ok := c.obj("sender_state_after"); ok {
		wantState(t, "sender_state_after", after, ch.State())
	}
}

// strictExpectation computes the Strict result of §1.9 from the Reference
// result r of the same input and state, with H1–H3 evaluated here,
// independently of Open: H1 by re-encoding the reference reader's values
// with this file's own writer.
type strictInputs struct {
	h1, h2, h3 bool
}

func strictPredicates(packet, deviceID []byte) strictInputs {
	var s strictInputs
	if bytes.IndexByte(packet, 0) >= 0 {
		return s
	}
	var f outer
	if !parseReferencePacket(packet, &f, make([]byte, readerBufLen)) {
		return s
	}
	s.h1 = bytes.Equal(packet, testCanonical(&f))
	s.h2 = !bytes.ContainsAny(f.sig, "ABCDEF")
	s.h3 = bytes.Equal(f.id, deviceID)
	return s
}

func strictCode(s strictInputs, r Code, isResponse bool, role Role) Code {
	switch {
	case !s.h1 || !s.h2:
		return CodeBadPacket
	case r == CodeBadPacket || r == CodeBadVersion || r == CodeBufferTooSmall || r == CodeInvalidSignature:
		return r
	case !s.h3:
		return CodeBadPacket
	case r != CodeOK:
		return r
	case isResponse != (role == RoleClient): // H4
		return CodeBadPacket
	}
	return CodeOK
}

// testCanonical writes the §1.5 template with a writer of its own (not the
// package's appendJSONString), for an independent H1.
func testCanonical(f *outer) []byte {
	s := func(b []byte) string {
		var out bytes.Buffer
		out.WriteByte('"')
		for _, c := range b {
			switch {
			case c == '"' || c == '\\':
				out.WriteByte('\\')
				out.WriteByte(c)
			case c == '\n':
				out.WriteString(`\n`)
			case c == '\r':
				out.WriteString(`\r`)
			case c == '\t':
				out.WriteString(`\t`)
			case c < 0x20:
				out.WriteString(`\u00`)
				out.WriteString(hex.EncodeToString([]byte{c}))
			default:
				out.WriteByte(c)
			}
		}
		out.WriteByte('"')
		return out.String()
	}
	return []byte(`{"v":` + s(f.v) + `,"id":` + s(f.id) + `,"seq":` + string(appendUint(nil, f.seq)) +
		`,"prev":` + s(f.prev) + `,"p":` + s(f.p) + `,"sig":` + s(f.sig) + `}`)
}

// checkReceiver opens packet under Reference from the recorded state and
// asserts everything the receiver object records; then under Strict, in the
// case's role and in the other role, asserts the code §1.9 computes and an
// unchanged state on error. It reports whether Strict's result in the case's
// role differs from Reference's.
func checkReceiver(t *testing.T, c, r vcase, packet []byte, role Role) (differs bool) {
	t.Helper()
	if rr, ok := r.str(t, "receiver_role"); ok {
		role = parseRoleForTest(t, rr)
	} else if rr, ok := c.str(t, "receiver_role"); ok {
		role = parseRoleForTest(t, rr)
	}
	token, id := caseToken(t, c), caseDeviceID(t, c)
	before, ok := r.obj("receiver_state_before")
	if !ok {
		t.Fatal("receiver without receiver_state_before")
	}
	proc, ok := r.obj("process")
	if !ok {
		t.Fatal("receiver without process")
	}
	state := vectorState(t, before)
	refusal := goRefusal(token, id)

	// Reference.
	var ref *Chain
	if refusal != CodeOK {
		ref = newReferenceReceiverForTest(t, token, id, role)
	} else {
		var err error
		if ref, err = NewChain(token, string(id), role, Config{Policy: PolicyReference}); err != nil {
			t.Fatal(err)
		}
	}
	ref.SetState(state)
	msg, err := ref.Open(nil, packet)
	rc := codeOf(err)
	if !proc.wantCode(t, "code", rc) {
		t.Fatal("process has no code")
	}
	if err == nil {
		proc.wantBool(t, "is_response", msg.IsResponse)
		proc.wantText(t, "command", []byte(msg.Command))
		proc.wantText(t, "request_id", []byte(msg.RequestID))
		proc.wantText(t, "data_json", msg.Data)
		proc.wantU64(t, "sequence", msg.Seq)
		proc.wantText(t, "prev_hash", []byte(msg.Prev.String()))
		proc.wantText(t, "packet_hash", []byte(msg.Hash.String()))
	} else if ref.State() != state {
		t.Errorf("reference: error %v changed the state", err)
	}
	if after, ok := r.obj("receiver_state_after"); ok {
		wantState(t, "receiver_state_after", after, ref.State())
	}

	// Strict, in the case's role and in the other one.
	for _, rl := range []Role{role, otherRole(role)} {
		strict, err := NewChain(token, string(id), rl, Config{})
		if refusal != CodeOK {
			if codeOf(err) != refusal {
				t.Errorf("strict NewChain: got %v, want refusal %d", err, refusal)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		strict.SetState(state)
		want := strictCode(strictPredicates(packet, id), rc, msg.IsResponse, rl)
		smsg, serr := strict.Open(nil, packet)
		got := codeOf(serr)
		if got != want {
			t.Errorf("strict (%s): got %v, want %d %s (reference: %d)", rl, serr, want, want.Name(), rc)
		}
		if rl == role && got != rc {
			differs = true
		}
		switch {
		case serr != nil && strict.State() != state:
			t.Errorf("strict (%s): error changed the state", rl)
		case serr == nil && (strict.State() != ref.State() || smsg.Seq != msg.Seq || smsg.Hash != msg.Hash ||
			!bytes.Equal(smsg.Data, msg.Data) || smsg.Command != msg.Command || smsg.RequestID != msg.RequestID):
			t.Errorf("strict (%s): accepted with other fields or state than reference", rl)
		}
	}
	return differs
}

func otherRole(r Role) Role {
	if r == RoleDevice {
		return RoleClient
	}
	return RoleDevice
}

func parseRoleForTest(t *testing.T, s string) Role {
	switch s {
	case "device":
		return RoleDevice
	case "client":
		return RoleClient
	}
	t.Fatalf("unknown receiver_role %q", s)
	return 0
}
