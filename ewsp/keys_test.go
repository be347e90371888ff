package ewsp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestKeysRedactedAndEqual(t *testing.T) {
	a, err := DeriveKeys([]byte(testToken))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DeriveKeys([]byte(testToken))
	c, _ := DeriveKeys([]byte(testToken + "x"))
	if !a.Equal(b) || a.Equal(c) || a.Equal(nil) || !(*Keys)(nil).Equal(nil) {
		t.Error("Equal")
	}
	secrets := []string{hex.EncodeToString(a.master[:]), hex.EncodeToString(a.enc[:]), hex.EncodeToString(a.auth[:])}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("keys", "k", a, "v", *a)
	outputs := []string{logged.String(), a.String(), fmt.Sprintf("%#v", a)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outputs = append(outputs, fmt.Sprintf(verb, a), fmt.Sprintf(verb, *a))
	}
	for _, out := range outputs {
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("output %q is not redacted", out)
		}
		for _, s := range secrets {
			if strings.Contains(strings.ToLower(out), s[:16]) {
				t.Errorf("output %q leaks key material", out)
			}
		}
	}
	for _, v := range []any{UpdateTokenRequest{Token: testToken}, CredentialsRequest{Name: "n", Password: testToken}} {
		if s := fmt.Sprintf("%v %+v %s", v, v, v); strings.Contains(s, testToken) {
			t.Errorf("%T prints its secret: %s", v, s)
		}
	}
	tok := testToken
	if s := fmt.Sprintf("%v", SetCloudRequest{APIToken: &tok}); strings.Contains(s, testToken) {
		t.Errorf("SetCloudRequest prints its token: %s", s)
	}
}

func TestDeriveKeysRefuses(t *testing.T) {
	for tok, code := range map[string]Code{
		"":                               CodeTokenTooShort,
		strings.Repeat("t", 31):          CodeTokenTooShort,
		strings.Repeat("t", 40) + "\x00": CodeInvalidToken,
		"\x00":                           CodeInvalidToken,
	} {
		if k, err := DeriveKeys([]byte(tok)); k != nil || codeOf(err) != code {
			t.Errorf("DeriveKeys(%q): %v, want %d", tok, err, code)
		}
	}
	if _, err := DeriveKeys(bytes.Repeat([]byte{0xff}, 4096)); err != nil {
		t.Errorf("long binary token: %v (no upper bound, no byte restriction)", err)
	}
}

func TestErrors(t *testing.T) {
	sentinels := []*Error{
		ErrTimeout, ErrConnectionRefused, ErrConnectionError, ErrNoResponse, ErrDisconnected,
		ErrAuthFailed, ErrInvalidToken, ErrSessionExpired, ErrTokenTooShort, ErrInvalidSignature,
		ErrReplayDetected, ErrBadSequence, ErrSeqJumpTooLarge, ErrBadPacket, ErrPayloadTooLarge,
		ErrBadVersion, ErrMissingField, ErrChainBroken, ErrInvalidGenesis, ErrChainDesync,
		ErrChainResetRequired, ErrCryptoDisabled, ErrDecryptFailed, ErrEncryptFailed, ErrInvalidKey,
		ErrInvalidNonce, ErrHMACFailed, ErrJSONParse, ErrJSONSerialize, ErrInvalidJSON, ErrJSONTooDeep,
		ErrUnknownCommand, ErrInvalidParams, ErrCommandFailed, ErrNotSupported, ErrRateLimited,
		ErrLimitExceeded, ErrLockedOut, ErrDeviceNotFound, ErrDeviceOffline, ErrDeviceBusy,
		ErrOutOfMemory, ErrBufferTooSmall, ErrResourceBusy, ErrInternal, ErrUnknown,
	}
	byCode := map[Code]*Error{}
	for _, s := range sentinels {
		if byCode[s.Code] != nil {
			t.Errorf("two sentinels for %d", s.Code)
		}
		byCode[s.Code] = s
	}
	// Every named code but OK has exactly one sentinel, and names map back.
	for n := -10000; n <= 0; n++ {
		c := Code(n)
		if c.Name() == "UNKNOWN" && c != CodeUnknown {
			if CodeFromName(c.Name()) != CodeUnknown {
				t.Errorf("%d", n)
			}
			continue
		}
		if CodeFromName(c.Name()) != c {
			t.Errorf("CodeFromName(%s) = %d, want %d", c.Name(), CodeFromName(c.Name()), c)
		}
		if c != CodeOK && byCode[c] == nil {
			t.Errorf("no sentinel for %d %s", c, c.Name())
		}
	}
	err := fmt.Errorf("wrapped: %w", newError(CodeChainBroken, "prev mismatch"))
	if !errors.Is(err, ErrChainBroken) || errors.Is(err, ErrBadPacket) {
		t.Error("errors.Is")
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != -400 || e.Code.Name() != "CHAIN_BROKEN" {
		t.Error("errors.As")
	}
	for _, s := range sentinels {
		msg := s.Error()
		if !strings.HasPrefix(msg, "ewsp: ") || msg[6] < 'a' || msg[6] > 'z' ||
			!strings.Contains(msg, s.Code.Name()+" "+strconv.Itoa(int(s.Code))) {
			t.Errorf("message %q", msg)
		}
	}
}

// TestImportGuard checks the direct imports of the package's non-test files:
// no network, no filesystem, nothing of this module (EWSP.md Test plan 8;
// internal/layout checks the same through go list).
func TestImportGuard(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		n++
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "net" || strings.HasPrefix(p, "net/") || p == "os" || strings.HasPrefix(p, "os/") ||
				strings.HasPrefix(p, "github.com/wakelink-go/wakelink") || p == "testing" || p == "math/rand" || p == "math/rand/v2" {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
	if n == 0 {
		t.Fatal("no production files found")
	}
}
