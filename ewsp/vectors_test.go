package ewsp

// Vector tests: EWSP.md §1.15 and the vector test contract of §1.16. They
// read $EWSP_VECTORS when set, else testdata/vectors, and interpret every
// case from its fields only (never its id, position or another case).

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

const (
	defaultVectorDir   = "testdata/vectors"
	defaultCaseToken   = "wl-main-vector-token-0123456789abcdef-XYZ" // kdf token_03
	defaultCaseID      = "WL35080814"
	defaultVectorCases = 285
)

// vectorFiles are the twelve case files of §1.15.
var vectorFiles = []string{
	"constants.json", "kdf.json", "primitives.json", "payload.json", "signature.json",
	"packets.json", "negative.json", "json_codec.json", "messages.json", "errors.json",
	"session.json", "replay_window.json",
}

// vectorDir returns the directory under test and whether it is the default
// one (where every file must be present).
func vectorDir() (string, bool) {
	if d := os.Getenv("EWSP_VECTORS"); d != "" {
		return d, false
	}
	return defaultVectorDir, true
}

// vcase is one case (or nested object) decoded with UseNumber.
type vcase map[string]any

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// loadCases returns the cases of one file, or ok=false when the file is
// absent from a non-default directory (the test is then skipped).
func loadCases(t *testing.T, name string) (cases []vcase, ok bool) {
	t.Helper()
	dir, isDefault := vectorDir()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) && !isDefault {
		return nil, false
	}
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	var file struct {
		Cases []vcase `json:"cases"`
	}
	if err := decodeJSON(b, &file); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return file.Cases, true
}

// forEachCase runs fn on every case of file in a subtest named after the
// case id (the id names the subtest only; it never selects behaviour).
func forEachCase(t *testing.T, file string, fn func(t *testing.T, c vcase)) {
	t.Helper()
	cases, ok := loadCases(t, file)
	if !ok {
		t.Skipf("%s absent from $EWSP_VECTORS", file)
	}
	if len(cases) == 0 {
		t.Fatalf("%s has no cases", file)
	}
	for i, c := range cases {
		name, _ := c["id"].(string)
		if name == "" {
			name = "case" + strconv.Itoa(i)
		}
		t.Run(name, func(t *testing.T) { fn(t, c) })
	}
}

func (c vcase) has(k string) bool { _, ok := c[k]; return ok }

// isNull reports whether k is present with the value null.
func (c vcase) isNull(k string) bool { v, ok := c[k]; return ok && v == nil }

func (c vcase) obj(k string) (vcase, bool) {
	m, ok := c[k].(map[string]any)
	return vcase(m), ok
}

// text returns the bytes of text field k: the UTF-8 of the JSON string k,
// else the hex of k_hex (§1.16 Encodings).
func (c vcase) text(t *testing.T, k string) ([]byte, bool) {
	t.Helper()
	if v, ok := c[k]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("field %s is %T, want a string", k, v)
		}
		return []byte(s), true
	}
	if v, ok := c[k+"_hex"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("field %s_hex is %T, want a string", k, v)
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatalf("field %s_hex: %v", k, err)
		}
		return b, true
	}
	return nil, false
}

func (c vcase) mustText(t *testing.T, k string) []byte {
	t.Helper()
	b, ok := c.text(t, k)
	if !ok {
		t.Fatalf("case has no text field %s", k)
	}
	return b
}

// bin returns binary field k (hex).
func (c vcase) bin(t *testing.T, k string) ([]byte, bool) {
	t.Helper()
	v, ok := c[k]
	if !ok || v == nil {
		return nil, false
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("field %s is %T, want hex", k, v)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("field %s: %v", k, err)
	}
	return b, true
}

func (c vcase) mustBin(t *testing.T, k string) []byte {
	t.Helper()
	b, ok := c.bin(t, k)
	if !ok {
		t.Fatalf("case has no binary field %s", k)
	}
	return b
}

func (c vcase) num(t *testing.T, k string) (json.Number, bool) {
	t.Helper()
	v, ok := c[k]
	if !ok || v == nil {
		return "", false
	}
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("field %s is %T, want a number", k, v)
	}
	return n, true
}

func (c vcase) u64(t *testing.T, k string) (uint64, bool) {
	t.Helper()
	n, ok := c.num(t, k)
	if !ok {
		return 0, false
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		t.Fatalf("field %s: %v", k, err)
	}
	return u, true
}

func (c vcase) i64(t *testing.T, k string) (int64, bool) {
	t.Helper()
	n, ok := c.num(t, k)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		t.Fatalf("field %s: %v", k, err)
	}
	return i, true
}

func (c vcase) boolean(t *testing.T, k string) (bool, bool) {
	t.Helper()
	v, ok := c[k]
	if !ok || v == nil {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		t.Fatalf("field %s is %T, want a bool", k, v)
	}
	return b, true
}

func (c vcase) str(t *testing.T, k string) (string, bool) {
	t.Helper()
	b, ok := c.text(t, k)
	return string(b), ok
}

// wantCode asserts a recorded code field k (and k_name when recorded) against
// got. It reports whether k was recorded.
func (c vcase) wantCode(t *testing.T, k string, got Code) bool {
	t.Helper()
	want, ok := c.i64(t, k)
	if !ok {
		return false
	}
	if int64(got) != want {
		t.Errorf("%s: got %d %s, want %d %s", k, got, got.Name(), want, Code(want).Name())
	}
	if name, ok := c.str(t, k+"_name"); ok && name != Code(want).Name() {
		t.Errorf("%s_name: recorded %q, but §1.13 names %d %q", k, name, want, Code(want).Name())
	}
	return true
}

// wantBytes compares got with text field k when recorded.
func (c vcase) wantText(t *testing.T, k string, got []byte) {
	t.Helper()
	if want, ok := c.text(t, k); ok && !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", k, got, want)
	}
}

// wantBin compares got with binary field k when recorded.
func (c vcase) wantBin(t *testing.T, k string, got []byte) {
	t.Helper()
	if want, ok := c.bin(t, k); ok && !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %x\nwant %x", k, got, want)
	}
}

func (c vcase) wantU64(t *testing.T, k string, got uint64) {
	t.Helper()
	if want, ok := c.u64(t, k); ok && got != want {
		t.Errorf("%s: got %d, want %d", k, got, want)
	}
}

func (c vcase) wantBool(t *testing.T, k string, got bool) {
	t.Helper()
	if want, ok := c.boolean(t, k); ok && got != want {
		t.Errorf("%s: got %t, want %t", k, got, want)
	}
}

// Case context (§1.16).

func caseToken(t *testing.T, c vcase) []byte {
	if tok, ok := c.text(t, "token"); ok {
		return tok
	}
	return []byte(defaultCaseToken)
}

func caseDeviceID(t *testing.T, c vcase) []byte {
	if id, ok := c.text(t, "device_id"); ok {
		return id
	}
	if id, ok := c.text(t, "device_id_in_context"); ok {
		return id
	}
	return []byte(defaultCaseID)
}

// caseKeys returns the keys of the case's token, with a recorded enc_key or
// auth_key used as given.
func caseKeys(t *testing.T, c vcase) *Keys {
	t.Helper()
	tok := cString(caseToken(t, c))
	k, err := deriveKeys(tok)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := c.bin(t, "enc_key"); ok {
		copy(k.enc[:], b)
	}
	if b, ok := c.bin(t, "auth_key"); ok {
		copy(k.auth[:], b)
	}
	return k
}

// goRefusal is the contract's rule for builds and receivers Go refuses: a
// token with 0x00 (-201), else under 32 bytes (-203), checked before the id;
// a device id that is empty, over 32 bytes, not UTF-8 or holds a byte below
// 0x20 (-701). It is written here independently of the production checks.
func goRefusal(token, id []byte) Code {
	if bytes.IndexByte(token, 0) >= 0 {
		return CodeInvalidToken
	}
	if len(token) < 32 {
		return CodeTokenTooShort
	}
	if len(id) == 0 || len(id) > 32 || !utf8.Valid(id) || slices.ContainsFunc(id, func(b byte) bool { return b < 0x20 }) {
		return CodeInvalidParams
	}
	return CodeOK
}

func codeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Code(1) // not an *Error: never a valid code
}

// TestVectorManifest checks the directory against its MANIFEST.json: case
// count and SHA-256 per file. In testdata/vectors the manifest and all
// twelve files must be present (285 cases).
func TestVectorManifest(t *testing.T) {
	dir, isDefault := vectorDir()
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if errors.Is(err, os.ErrNotExist) && !isDefault {
		t.Skip("no MANIFEST.json in $EWSP_VECTORS")
	}
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Files map[string]struct {
			Cases  int    `json:"cases"`
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if isDefault {
		names := make([]string, 0, len(m.Files))
		for n := range m.Files {
			names = append(names, n)
		}
		slices.Sort(names)
		want := slices.Clone(vectorFiles)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("manifest lists %v, want the twelve files %v", names, want)
		}
	}
	total := 0
	for name, entry := range m.Files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) && !isDefault {
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != entry.SHA256 {
			t.Errorf("%s: SHA-256 %x, manifest says %s (vectors must be unchanged copies)", name, sum, entry.SHA256)
		}
		var f struct {
			Cases []json.RawMessage `json:"cases"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(f.Cases) != entry.Cases {
			t.Errorf("%s: %d cases, manifest says %d", name, len(f.Cases), entry.Cases)
		}
		total += len(f.Cases)
	}
	if isDefault && total != defaultVectorCases {
		t.Errorf("%d cases in all, want %d", total, defaultVectorCases)
	}
}

// TestVectorConstants compares constants.json with the package constants.
func TestVectorConstants(t *testing.T) {
	forEachCase(t, "constants.json", func(t *testing.T, c vcase) {
		texts := map[string]string{
			"genesis_hash":             GenesisHash,
			"request_id_alphabet":      RequestIDAlphabet,
			"protocol_version_field_v": Version1,
		}
		nums := map[string]uint64{
			"max_seq_jump":                            MaxSeqJump,
			"min_token_len_bytes":                     MinTokenLen,
			"max_device_id_len_bytes":                 MaxDeviceIDLen,
			"max_command_len_bytes":                   MaxCommandLen,
			"request_id_len":                          RequestIDLen,
			"max_payload_hex_chars_parsed":            MaxPayloadHexLen,
			"max_inner_plaintext_accepted_by_process": MaxInnerLen,
			"payload_nonce_size":                      NonceSize,
		}
		n := 0
		for k, want := range texts {
			if got, ok := c.str(t, k); ok {
				n++
				if got != want {
					t.Errorf("%s: vectors %q, package %q", k, got, want)
				}
			}
		}
		for k, want := range nums {
			if got, ok := c.u64(t, k); ok {
				n++
				if got != want {
					t.Errorf("%s: vectors %d, package %d", k, got, want)
				}
			}
		}
		if n == 0 {
			t.Error("case records none of the constants of §1.16")
		}
		var zero Hash
		if zero.String() != GenesisHash {
			t.Errorf("zero Hash is %s, want the genesis hash", zero)
		}
	})
}

// TestVectorKDF checks kdf.json: token → keys, and generic HKDF runs.
func TestVectorKDF(t *testing.T) {
	forEachCase(t, "kdf.json", func(t *testing.T, c vcase) {
		switch {
		case c.has("token"), c.has("token_hex"):
			tok := c.mustText(t, "token")
			c.wantU64(t, "token_len_bytes", uint64(len(tok)))
			k, err := DeriveKeys(tok)
			want, _ := c.i64(t, "init_result")
			if bytes.IndexByte(tok, 0) >= 0 {
				if codeOf(err) != CodeInvalidToken {
					t.Errorf("token with 0x00: got %v, want INVALID_TOKEN", err)
				}
				return
			}
			c.wantCode(t, "init_result", codeOf(err))
			if want != 0 || err != nil {
				return
			}
			c.wantBin(t, "master_key", k.master[:])
			c.wantBin(t, "enc_key", k.enc[:])
			c.wantBin(t, "auth_key", k.auth[:])
			if s, ok := c.str(t, "enc_key_info"); ok && s != encKeyInfo {
				t.Errorf("enc_key_info %q, package uses %q", s, encKeyInfo)
			}
			if s, ok := c.str(t, "auth_key_info"); ok && s != authKeyInfo {
				t.Errorf("auth_key_info %q, package uses %q", s, authKeyInfo)
			}
			if d, ok := c.obj("decoy_not_used_by_reference"); ok {
				for name := range d {
					if !strings.HasPrefix(name, "spec_doc_") {
						continue
					}
					v := d.mustBin(t, name)
					if bytes.Equal(v, k.enc[:]) || bytes.Equal(v, k.auth[:]) {
						t.Errorf("decoy %s equals a derived key: the _v1 derivation is wrong", name)
					}
				}
			}
		case c.has("okm"):
			salt, _ := c.bin(t, "salt") // null = none
			ikm, _ := c.bin(t, "ikm")
			info, _ := c.bin(t, "info")
			l, _ := c.u64(t, "length")
			prk, err := hkdf.Extract(sha256.New, ikm, salt)
			if err != nil {
				t.Fatal(err)
			}
			c.wantBin(t, "prk", prk)
			okm, err := hkdf.Expand(sha256.New, prk, string(info), int(l))
			if err != nil {
				t.Fatal(err)
			}
			c.wantBin(t, "okm", okm)
		default:
			t.Fatal("case matches no kdf shape of §1.16")
		}
	})
}

// TestVectorPrimitives checks primitives.json against the standard library
// and x/crypto, and the XChaCha20 block-1 cases also against both payload
// cipher paths. The reference Poly1305 and AEAD tags are not targets.
func TestVectorPrimitives(t *testing.T) {
	tagsDiffer := 0
	forEachCase(t, "primitives.json", func(t *testing.T, c vcase) {
		switch {
		case c.has("digest"):
			sum := sha256.Sum256(c.mustBin(t, "input"))
			c.wantBin(t, "digest", sum[:])
		case c.has("mac"):
			m := hmac.New(sha256.New, c.mustBin(t, "key"))
			m.Write(c.mustBin(t, "data"))
			c.wantBin(t, "mac", m.Sum(nil))
		case c.has("subkey"):
			sk, err := chacha20.HChaCha20(c.mustBin(t, "key"), c.mustBin(t, "nonce16"))
			if err != nil {
				t.Fatal(err)
			}
			c.wantBin(t, "subkey", sk)
		case c.has("output"):
			key, nonce, in := c.mustBin(t, "key"), c.mustBin(t, "nonce"), c.mustBin(t, "input")
			ctr, _ := c.u64(t, "counter")
			s, err := chacha20.NewUnauthenticatedCipher(key, nonce)
			if err != nil {
				t.Fatal(err)
			}
			s.SetCounter(uint32(ctr))
			out := make([]byte, len(in))
			s.XORKeyStream(out, in)
			c.wantBin(t, "output", out)
			if len(nonce) == NonceSize && ctr == 1 {
				for name, pc := range payloadCiphers(t, (*[32]byte)(key)) {
					buf := make([]byte, len(in), len(in)+tagRoom)
					pc.xor(buf, in, (*[NonceSize]byte)(nonce))
					if want := c.mustBin(t, "output"); !bytes.Equal(buf, want) {
						t.Errorf("payload cipher (%s): got %x, want %x", name, buf, want)
					}
				}
			}
		case c.has("tag") && c.has("message"):
			// Reference Poly1305 (not RFC 8439): nothing is asserted.
		case c.has("ciphertext_and_tag"):
			key, nonce := c.mustBin(t, "key"), c.mustBin(t, "nonce")
			ad, _ := c.bin(t, "ad")
			pt, _ := c.bin(t, "plaintext")
			rec := c.mustBin(t, "ciphertext_and_tag")
			if len(rec) != len(pt)+16 {
				t.Fatalf("recorded length %d, want len(plaintext)+16 = %d", len(rec), len(pt)+16)
			}
			a, err := chacha20poly1305.NewX(key)
			if err != nil {
				t.Fatal(err)
			}
			got := a.Seal(nil, nonce, pt, ad)
			if !bytes.Equal(got[:len(pt)], rec[:len(pt)]) {
				t.Errorf("ciphertext: got %x, want %x", got[:len(pt)], rec[:len(pt)])
			}
			if !bytes.Equal(got[len(pt):], rec[len(pt):]) {
				tagsDiffer++
			}
		default:
			t.Fatal("case matches no primitives shape of §1.16")
		}
	})
	t.Logf("reference AEAD tags that differ from x/crypto's (evidence of its Poly1305, never asserted): %d", tagsDiffer)
}

// payloadCiphers returns every payload cipher path this build has: the
// plain chacha20 one always, the AEAD-keystream one where available.
func payloadCiphers(t *testing.T, key *[32]byte) map[string]*payloadCipher {
	t.Helper()
	generic := newPayloadCipher(key)
	generic.aead = nil
	m := map[string]*payloadCipher{"chacha20": &generic}
	if pc := newPayloadCipher(key); pc.aead != nil {
		m["aead-keystream"] = &pc
	}
	return m
}

// TestPayloadCipherPath checks that the build uses the cipher path it
// should: the AEAD keystream on amd64 with AVX2 and BMI2 (not under
// -tags purego), plain chacha20 everywhere else.
func TestPayloadCipherPath(t *testing.T) {
	var key [32]byte
	pc := newPayloadCipher(&key)
	want := aeadKeystreamBuild && cpu.X86.HasAVX2 && cpu.X86.HasBMI2 && cpu.X86.HasSSSE3
	if (pc.aead != nil) != want {
		t.Errorf("AEAD keystream path: %t, want %t", pc.aead != nil, want)
	}
	t.Logf("payload cipher paths tested against the vectors: %d (aead keystream: %t)", len(payloadCiphers(t, &key)), pc.aead != nil)
}

// TestVectorPayload checks payload.json: encoding and decoding of p, on
// every cipher path of this build.
func TestVectorPayload(t *testing.T) {
	forEachCase(t, "payload.json", func(t *testing.T, c vcase) {
		keys := caseKeys(t, c)
		for name, pc := range payloadCiphers(t, &keys.enc) {
			t.Run(name, func(t *testing.T) {
				switch {
				case c.has("nonce"):
					pt := c.mustText(t, "plaintext")
					c.wantU64(t, "plaintext_len", uint64(len(pt)))
					nonce := c.mustBin(t, "nonce")
					if len(nonce) != NonceSize {
						t.Fatalf("nonce of %d bytes", len(nonce))
					}
					p, code := pc.appendPayload(nil, pt, (*[NonceSize]byte)(nonce))
					c.wantCode(t, "encrypt_result", code)
					if code != CodeOK {
						return
					}
					c.wantText(t, "p", p)
					if parts, ok := c.obj("p_parts"); ok {
						raw, _ := hex.DecodeString(string(p))
						parts.wantBin(t, "length_prefix_hex", raw[:2])
						parts.wantBin(t, "ciphertext_hex", raw[2:len(raw)-NonceSize])
						parts.wantBin(t, "nonce_hex", raw[len(raw)-NonceSize:])
					}
					got, code := pc.decodePayload(nil, p, len(pt))
					c.wantCode(t, "decrypt_result", code)
					if rt, _ := c.boolean(t, "roundtrip_equal"); rt && !bytes.Equal(got, pt) {
						t.Errorf("round trip: got %q, want %q", got, pt)
					}
				case c.has("plaintext_capacity"):
					p := c.mustText(t, "p")
					k, _ := c.u64(t, "plaintext_capacity")
					got, code := pc.decodePayload(nil, p, int(k))
					c.wantCode(t, "decrypt_result", code)
					if code == CodeOK {
						c.wantText(t, "plaintext", got)
					}
				default:
					t.Fatal("case matches no payload shape of §1.16")
				}
			})
		}
	})
}

// TestVectorSignature checks signature.json: sig_input, sig and verification.
func TestVectorSignature(t *testing.T) {
	forEachCase(t, "signature.json", func(t *testing.T, c vcase) {
		keys := caseKeys(t, c)
		s := signer{mac: hmac.New(sha256.New, keys.auth[:])}
		seq, _ := c.u64(t, "seq")
		f := outer{
			v: c.mustText(t, "v"), id: caseDeviceID(t, c), seq: seq,
			prev: c.mustText(t, "prev"), p: c.mustText(t, "p"),
		}
		c.wantText(t, "seq_decimal", appendUint(nil, seq))
		prefix := appendSigPrefix(nil, f.v, f.id, f.seq, f.prev)
		c.wantText(t, "sig_input", append(slices.Clone(prefix), f.p...))
		sig := appendHex(nil, s.sign(prefix, f.p))
		c.wantText(t, "sig", sig)
		verify := func(field, result string, cut int) {
			v, ok := c.text(t, field)
			if !ok {
				return
			}
			if cut > 0 {
				v = v[:cut]
			}
			g := f
			g.sig = v
			c.wantBool(t, result, s.verify(&g))
		}
		verify("sig", "verify_exact", 0)
		verify("sig_uppercase", "verify_uppercase", 0)
		verify("sig_flipped", "verify_flipped", 0)
		verify("sig", "verify_63_chars", 63)
	})
}

// TestVectorErrors checks errors.json against the package's table.
func TestVectorErrors(t *testing.T) {
	forEachCase(t, "errors.json", func(t *testing.T, c vcase) {
		n, ok := c.i64(t, "code")
		if !ok {
			t.Fatal("case has no code")
		}
		code := Code(n)
		if want, _ := c.str(t, "name"); want != code.Name() {
			t.Errorf("name: got %q, want %q", code.Name(), want)
		}
		if want, ok := c.str(t, "message"); ok && want != code.Message() {
			t.Errorf("message: got %q, want %q", code.Message(), want)
		}
		c.wantBool(t, "retryable", code.Retryable())
		c.wantBool(t, "fatal", code.Fatal())
		c.wantBool(t, "needs_chain_reset", code.NeedsChainReset())
		c.wantU64(t, "retry_after_seconds", uint64(code.RetryAfter().Seconds()))
		if name, ok := c.str(t, "name"); ok {
			if want, ok := c.i64(t, "from_name"); ok && int64(CodeFromName(name)) != want {
				t.Errorf("from_name(%q): got %d, want %d", name, CodeFromName(name), want)
			}
		}
	})
}
