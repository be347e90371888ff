package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

var hex64 = strings.Repeat("0123456789abcdef", 4)

func TestParseToken(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	tests := []struct {
		in   string
		want Kind
	}{
		{"wl_" + hex64, KindAccount},
		{"wls_" + hex64, KindSession},
		{"wld_" + hex64, KindDevice},
		{"wlm_" + hex64, KindMCP},
		{"wdt_" + hex64, KindDownload},
		{"wet_" + hex64, KindEventTicket},
		{jwt, KindJWT},
		{"a.b.c", KindJWT},
		// Everything else is INVALID_TOKEN.
		{"", KindNone},
		{"wl_" + hex64[:63], KindNone},
		{"wl_" + hex64 + "0", KindNone},
		{"wl_" + strings.ToUpper(hex64), KindNone},
		{"WL_" + hex64, KindNone},
		{"wlk_" + hex64, KindNone},
		{"wlx_" + hex64, KindNone},
		{"w_" + hex64, KindNone},
		{"wl__" + hex64[1:], KindNone},
		{"wl_" + hex64[:63] + "g", KindNone},
		{"wls" + hex64, KindNone},
		{"Bearer " + jwt, KindNone},
		{"a.b", KindNone},
		{"a.b.c.d", KindNone},
		{".b.c", KindNone},
		{"a..c", KindNone},
		{"a.b.", KindNone},
		{"a.b.c=", KindNone},
		{"a.b+.c", KindNone},
		{"a.b.c\n", KindNone},
		{strings.Repeat("a", MaxJWTLen-3) + ".b.c", KindNone},
		{"ABCD-EFGH-JKMN", KindNone},
	}
	for _, tt := range tests {
		tok, err := ParseToken(tt.in)
		if tt.want == KindNone {
			if !errors.Is(err, ErrInvalidToken) || !tok.IsZero() {
				t.Errorf("ParseToken(%.20q…): got (%v, %v), want INVALID_TOKEN", tt.in, tok.Kind(), err)
			}
			continue
		}
		if err != nil || tok.Kind() != tt.want || tok.Reveal() != tt.in {
			t.Errorf("ParseToken(%.20q…): got (%v, %v), want %v", tt.in, tok.Kind(), err, tt.want)
		}
	}
	long := strings.Repeat("a", MaxJWTLen-4) + ".b.c"
	if tok, err := ParseToken(long); err != nil || tok.Kind() != KindJWT {
		t.Errorf("a JWT of exactly MaxJWTLen bytes: %v", err)
	}
}

func TestParseTokenAllocs(t *testing.T) {
	s := "wld_" + hex64
	if n := testing.AllocsPerRun(100, func() { ParseToken(s) }); n != 0 {
		t.Errorf("ParseToken allocates %v times, want 0", n)
	}
}

func TestTokenRedaction(t *testing.T) {
	raw := "wl_" + hex64
	tok, _ := ParseToken(raw)
	secret := hex64[4:]
	type wrapper struct {
		T   Token
		P   *Token
		Sec Secret
	}
	w := wrapper{T: tok, P: &tok, Sec: Secret("hunter2-secret")}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "token", tok, "w", w)
	js, _ := json.Marshal(w)
	outs := []string{
		fmt.Sprint(tok), fmt.Sprintf("%s %v %+v %#v %q %x %d", tok, tok, tok, tok, tok, tok, tok),
		fmt.Sprintf("%v %+v %#v", w, w, w), tok.String(), tok.GoString(), logged.String(), string(js),
	}
	for _, o := range outs {
		if strings.Contains(o, secret) || strings.Contains(o, "hunter2") {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(tok.String(), "wl_0123…") {
		t.Errorf("String() = %q, want the hint", tok.String())
	}
	if tok.Hint() != "wl_0123…" {
		t.Errorf("Hint() = %q", tok.Hint())
	}
	if Token.String(Token{}) != "<none>" {
		t.Errorf("zero Token prints %q", Token{}.String())
	}
	code, _ := ParseClaimCode("abcd-efgh-jkmn")
	if s := fmt.Sprint(code); strings.Contains(s, "EFGH") {
		t.Errorf("claim code leaked: %s", s)
	}
}

func TestTokenEqual(t *testing.T) {
	a, _ := ParseToken("wl_" + hex64)
	b, _ := ParseToken("wl_" + hex64)
	c, _ := ParseToken("wls_" + hex64)
	d, _ := ParseToken("wl_" + strings.Repeat("0", 64))
	if !a.Equal(b) || a.Equal(c) || a.Equal(d) || a.Equal(Token{}) {
		t.Error("Equal is wrong")
	}
	if a.Hash() != b.Hash() || a.Hash() == d.Hash() {
		t.Error("Hash is wrong")
	}
}

func TestParseKind(t *testing.T) {
	for k := KindNone + 1; k < kindCount; k++ {
		if ParseKind(k.String()) != k {
			t.Errorf("ParseKind(%q) != %v", k.String(), k)
		}
	}
	if ParseKind("") != KindNone || ParseKind("nope") != KindNone {
		t.Error("ParseKind accepts junk")
	}
	s := Kinds(KindJWT, KindDevice)
	if !s.Has(KindJWT) || !s.Has(KindDevice) || s.Has(KindAccount) || s.Has(Kind(200)) {
		t.Error("KindSet is wrong")
	}
}

func TestParseClaimCode(t *testing.T) {
	good := map[string]string{
		"ABCD-EFGH-JKMN":         "ABCD-EFGH-JKMN",
		"abcdefghjkmn":           "ABCD-EFGH-JKMN",
		"ab-cd-ef-gh-jk-mn":      "ABCD-EFGH-JKMN",
		"0123-4567-89XZ":         "0123-4567-89XZ",
		"--0123456789vw--------": "0123-4567-89VW",
	}
	for in, want := range good {
		tok, err := ParseClaimCode(in)
		if err != nil || tok.Reveal() != want || tok.Kind() != KindClaimCode {
			t.Errorf("ParseClaimCode(%q) = %q, %v; want %q", in, tok.Reveal(), err, want)
		}
	}
	for _, in := range []string{"", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKMI", "ABCD-EFGH-JKML",
		"ABCD-EFGH-JKMO", "ABCD-EFGH-JKMU", "ABCD EFGH JKMN", "ÄBCD-EFGH-JKMN", strings.Repeat("-", 60) + "ABCDEFGHJKMN"} {
		if _, err := ParseClaimCode(in); !errors.Is(err, ErrClaimCodeInvalid) {
			t.Errorf("ParseClaimCode(%q): got %v, want CLAIM_CODE_INVALID", in, err)
		}
	}
	a, _ := ParseClaimCode("abcd-efgh-jkmn")
	b, _ := ParseClaimCode("ABCDEFGHJKMN")
	if a.Hash() != b.Hash() {
		t.Error("equivalent claim codes hash differently")
	}
}

func TestRecoveryCodes(t *testing.T) {
	for in, want := range map[string]string{"abcd-efgh": "abcd-efgh", "ABCDEFGH": "abcd-efgh", "0123-4567": "0123-4567"} {
		got, ok := normalizeRecoveryCode(in)
		if !ok || got != want {
			t.Errorf("normalizeRecoveryCode(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "abcd-efg", "abcd-efghj", "abcd-efgi", "abcd_efgh", strings.Repeat("a", 40)} {
		if _, ok := normalizeRecoveryCode(in); ok {
			t.Errorf("normalizeRecoveryCode(%q) accepted", in)
		}
	}
	if recoveryHash("usr_a", "abcd-efgh") == recoveryHash("usr_b", "abcd-efgh") {
		t.Error("recovery hashes of two users collide")
	}
}

func TestParseMACAndLooksLikeMAC(t *testing.T) {
	for in, want := range map[string]string{
		"aa:bb:cc:dd:ee:ff": "AA:BB:CC:DD:EE:FF",
		"AA-BB-CC-DD-EE-FF": "AA:BB:CC:DD:EE:FF",
		"aa:bb-cc:dd-ee:ff": "AA:BB:CC:DD:EE:FF",
		"01:23:45:67:89:0a": "01:23:45:67:89:0A",
	} {
		got, _, ok := ParseMAC(in)
		if !ok || got != want {
			t.Errorf("ParseMAC(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "aabbccddeeff", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:fg", "aa.bb.cc.dd.ee.ff", " aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:"} {
		if _, _, ok := ParseMAC(in); ok {
			t.Errorf("ParseMAC(%q) accepted", in)
		}
	}
	macLike := []string{"aabbccddeeff", "AABBCCDDEEFF", "deadbeefcafe", "aabb.ccdd.eeff", "AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff", "deadbeefcafe  ", "  aabb.ccdd.eeff"}
	for _, in := range macLike {
		if !LooksLikeMAC(in) {
			t.Errorf("LooksLikeMAC(%q) = false", in)
		}
	}
	for _, in := range []string{"desktop", "deadbeefcafg", "deadbeefcaf", "aabb.ccdd.eef", "aabb-ccdd-eeff", "aa bb cc dd ee ff", "my pc 1", ""} {
		if LooksLikeMAC(in) {
			t.Errorf("LooksLikeMAC(%q) = true", in)
		}
	}
}

func TestValidators(t *testing.T) {
	for id, ok := range map[string]bool{"a": true, "WL0A1B2C3D": true, "pi-4.home_1": true, strings.Repeat("a", 32): true,
		"": false, "-a": false, ".a": false, strings.Repeat("a", 33): false, "a b": false, "ä": false, "a/b": false} {
		if ValidAgentID(id) != ok {
			t.Errorf("ValidAgentID(%q) = %v", id, !ok)
		}
	}
	for v, ok := range map[string]bool{"1.2.3": true, "0.0.0": true, "1.2.3-rc.1": true, "1.2.3+build.5": true, "1.2.3-0a.1+x-y": true,
		"1.2": false, "01.2.3": false, "1.2.3-": false, "1.2.3-01": false, "v1.2.3": false, "1.2.3+": false, "1.2.3-a..b": false, "": false} {
		if validSemver(v) != ok {
			t.Errorf("validSemver(%q) = %v", v, !ok)
		}
	}
	for p, ok := range map[string]bool{"linux-arm64": true, "esp32": true, "a_b": true, "Linux": false, "-x": false, "": false} {
		if validPlatform(p) != ok {
			t.Errorf("validPlatform(%q) = %v", p, !ok)
		}
	}
	for u, ok := range map[string]bool{"abc": true, "a.b-c_d": true, "ab": false, "_ab": false, "ABC": false, strings.Repeat("a", 33): false} {
		if validUsername(u) != ok {
			t.Errorf("validUsername(%q) = %v", u, !ok)
		}
	}
}

func TestCheckTargets(t *testing.T) {
	var v validator
	out := checkTargets(&v, []Target{
		{Name: "desktop", MAC: "aa-bb-cc-dd-ee-01", Broadcast: "192.168.1.255"},
		{Name: "NAS box", MAC: "02:00:00:00:00:02", Port: 7},
	})
	if err := v.err(); err != nil {
		t.Fatal(err)
	}
	if out[0].MAC != "AA:BB:CC:DD:EE:01" || out[0].Port != 9 || out[1].Port != 7 {
		t.Fatalf("normalised targets: %+v", out)
	}
	bad := []struct {
		t     Target
		field string
		rule  string
	}{
		{Target{Name: "deadbeefcafe", MAC: "02:00:00:00:00:01"}, "targets[0].name", "not_mac"},
		{Target{Name: "aabb.ccdd.eeff", MAC: "02:00:00:00:00:01"}, "targets[0].name", "not_mac"},
		{Target{Name: " pc", MAC: "02:00:00:00:00:01"}, "targets[0].name", "pattern"},
		{Target{Name: "pc", MAC: "00:00:00:00:00:00"}, "targets[0].mac", "mac_unicast"},
		{Target{Name: "pc", MAC: "ff:ff:ff:ff:ff:ff"}, "targets[0].mac", "mac_unicast"},
		{Target{Name: "pc", MAC: "01:00:5e:00:00:01"}, "targets[0].mac", "mac_unicast"},
		{Target{Name: "pc", MAC: "aabbccddeeff"}, "targets[0].mac", "mac"},
		{Target{Name: "pc", MAC: "02:00:00:00:00:01", Broadcast: "::1"}, "targets[0].broadcast", "ipv4"},
		{Target{Name: "pc", MAC: "02:00:00:00:00:01", Broadcast: "300.1.1.1"}, "targets[0].broadcast", "ipv4"},
		{Target{Name: "pc", MAC: "02:00:00:00:00:01", Port: 70000}, "targets[0].port", "range"},
		{Target{Name: "pc", MAC: "02:00:00:00:00:01", Port: -1}, "targets[0].port", "range"},
	}
	for _, b := range bad {
		var v validator
		checkTargets(&v, []Target{b.t})
		var e *Error
		if !errors.As(v.err(), &e) || len(e.Fields) == 0 || e.Fields[0].Field != b.field || e.Fields[0].Rule != b.rule {
			t.Errorf("checkTargets(%+v): got %v, want %s/%s", b.t, v.errs, b.field, b.rule)
		}
	}
	var dup validator
	checkTargets(&dup, []Target{{Name: "PC", MAC: "02:00:00:00:00:01"}, {Name: "pc", MAC: "02:00:00:00:00:02"}})
	if len(dup.errs) != 1 || dup.errs[0].Field != "targets[1].name" || dup.errs[0].Rule != "unique" {
		t.Errorf("duplicate names ignoring case: %v", dup.errs)
	}
	var many validator
	checkTargets(&many, make([]Target, MaxTargets+1))
	if len(many.errs) != 1 || many.errs[0].Rule != "max" {
		t.Errorf("33 targets: %v", many.errs)
	}
}

func FuzzParseToken(f *testing.F) {
	for _, s := range []string{"wl_" + hex64, "wls_" + hex64, "wld_" + hex64, "wdt_" + hex64, "a.b.c", "", "wl_", "eyJ.eyJ.sig", "wlk_" + hex64} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			if !tok.IsZero() || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ParseToken(%q): token %v with error %v", s, tok.Kind(), err)
			}
			return
		}
		if tok.Reveal() != s {
			t.Fatalf("ParseToken(%q) changed the token", s)
		}
		switch k := tok.Kind(); k {
		case KindJWT:
			if strings.Count(s, ".") != 2 || len(s) > MaxJWTLen {
				t.Fatalf("ParseToken(%q) = JWT", s)
			}
		default:
			if !strings.HasPrefix(s, k.Prefix()) || len(s) != len(k.Prefix())+TokenHexLen {
				t.Fatalf("ParseToken(%q) = %v", s, k)
			}
			if strings.Contains(tok.String(), s[len(k.Prefix())+4:]) {
				t.Fatalf("String() of %q leaks the secret", s)
			}
		}
	})
}

func FuzzParseClaimCode(f *testing.F) {
	for _, s := range []string{"ABCD-EFGH-JKMN", "abcdefghjkmn", "", "----", "ILOU-ILOU-ILOU", "abcd-efgh-jkm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseClaimCode(s)
		if err != nil {
			if !errors.Is(err, ErrClaimCodeInvalid) {
				t.Fatalf("ParseClaimCode(%q): %v", s, err)
			}
			return
		}
		r := tok.Reveal()
		if len(r) != 14 || r[4] != '-' || r[9] != '-' {
			t.Fatalf("ParseClaimCode(%q) = %q", s, r)
		}
		again, err := ParseClaimCode(r)
		if err != nil || again.Reveal() != r {
			t.Fatalf("canonical form %q does not round-trip", r)
		}
		if !strings.EqualFold(strings.ReplaceAll(s, "-", ""), strings.ReplaceAll(r, "-", "")) {
			t.Fatalf("ParseClaimCode(%q) = %q: not the same characters", s, r)
		}
	})
}

func FuzzMAC(f *testing.F) {
	for _, s := range []string{"aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aabb.ccdd.eeff", "aabbccddeeff", "", "desktop", " aabbccddeeff "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm, b, ok := ParseMAC(s)
		if ok {
			if !LooksLikeMAC(s) {
				t.Fatalf("ParseMAC accepts %q but LooksLikeMAC does not", s)
			}
			again, b2, ok2 := ParseMAC(norm)
			if !ok2 || again != norm || b2 != b {
				t.Fatalf("ParseMAC(%q) = %q does not round-trip", s, norm)
			}
		}
		LooksLikeMAC(s)
		if validTargetName(s) && LooksLikeMAC(s) {
			var v validator
			checkTargets(&v, []Target{{Name: s, MAC: "02:00:00:00:00:01"}})
			if v.err() == nil {
				t.Fatalf("target name %q parses as a MAC but was accepted", s)
			}
		}
	})
}

func FuzzDecodeHash(f *testing.F) {
	f.Add(encodeHash(DefaultPasswordParams(), make([]byte, 16), make([]byte, 32)))
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decodeHash(s)
		if err != nil {
			return
		}
		if p.Memory > maxStoredMemory || p.Time > maxStoredTime || p.Threads > maxStoredThreads || p.Memory < 8*uint32(p.Threads) ||
			len(salt) < 8 || len(key) < 16 || p.Time == 0 || p.Threads == 0 {
			t.Fatalf("decodeHash(%q) accepted out-of-bounds parameters %+v", s, p)
		}
	})
}
