package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Kind is the kind of a credential, as the Bearer dispatch of API.md §1.4
// classifies it.
type Kind uint8

// The credential kinds. The zero Kind is no credential.
const (
	KindNone         Kind = iota
	KindJWT               // access token: a JWT
	KindAccount           // account token: wl_ + 64 hex
	KindSession           // session token: wls_ + 64 hex
	KindDevice            // device token: wld_ + 64 hex
	KindMCP               // MCP token: wlm_ + 64 hex
	KindDownload          // download token: wdt_ + 64 hex
	KindEventTicket       // event ticket: wet_ + 64 hex
	KindClaimCode         // claim code: 12 Crockford base32 characters
	KindRecoveryCode      // TOTP recovery code: xxxx-xxxx
	KindTOTPSecret        // TOTP secret (base32), shown once at enrollment
	kindCount
)

// Sizes of the opaque tokens.
const (
	// TokenRandomBytes is the entropy of an opaque token (256 bits).
	TokenRandomBytes = 32
	// TokenHexLen is the length of an opaque token's hex part.
	TokenHexLen = 2 * TokenRandomBytes
	// MaxJWTLen bounds the JWTs this package parses; ours are about 350 bytes.
	MaxJWTLen = 4096
)

var kindNames = [kindCount]string{"", "jwt", "wl", "wls", "wld", "wlm", "wdt", "wet", "claim_code", "recovery_code", "totp_secret"}

// String returns the kind's short name: "jwt", "wl", "wls", "wld", "wlm",
// "wdt", "wet", "claim_code", "recovery_code", "totp_secret", or "" for
// KindNone. Stores persist credential kinds by this name.
func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String for the stored credential kinds;
// it returns KindNone for anything else.
func ParseKind(s string) Kind {
	for k, n := range kindNames {
		if n == s && n != "" {
			return Kind(k)
		}
	}
	return KindNone
}

// Prefix returns the token prefix of an opaque kind ("wl_", ...), else "".
func (k Kind) Prefix() string {
	switch k {
	case KindAccount, KindSession, KindDevice, KindMCP, KindDownload, KindEventTicket:
		return kindNames[k] + "_"
	}
	return ""
}

// opaque reports whether k is an opaque prefix + hex token.
func (k Kind) opaque() bool { return k.Prefix() != "" }

// KindSet is a set of credential kinds, for the admission check of
// Authenticate.
type KindSet uint16

// Kinds returns the set of the given kinds.
func Kinds(kinds ...Kind) KindSet {
	var s KindSet
	for _, k := range kinds {
		if k < kindCount {
			s |= 1 << k
		}
	}
	return s
}

// Has reports whether k is in the set.
func (s KindSet) Has(k Kind) bool { return k < kindCount && s&(1<<k) != 0 }

// Hash is the SHA-256 of a token's exact text. Stores keep only hashes.
type Hash [sha256.Size]byte

// String returns the lowercase hex of the hash (hashes are not secret).
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Token is a secret: a credential, a claim code, a recovery code or a TOTP
// secret. It never prints its value: String, Format (every verb, %#v
// included), LogValue, MarshalText and MarshalJSON all give a redacted form
// such as "wl_1a2b…". The raw value leaves only through Reveal, which the
// one answer that issues a token calls. Tokens cannot be compared with ==;
// use Equal (constant time).
type Token struct {
	_    [0]func() // not comparable
	kind Kind
	raw  string
}

// ParseToken classifies a Bearer value by its exact prefix (API.md §1.4):
// wl_, wls_, wld_, wlm_, wdt_, wet_ followed by exactly 64 lowercase hex
// digits, or else a JWT (three non-empty base64url segments, at most
// MaxJWTLen bytes). Anything else — another prefix, a wrong length or case,
// an agent token wlk_ — is INVALID_TOKEN. ParseToken checks syntax only; it
// never panics and allocates nothing but the error.
func ParseToken(s string) (Token, error) {
	if k := opaqueKind(s); k != KindNone {
		return Token{kind: k, raw: s}, nil
	}
	if isJWTSyntax(s) {
		return Token{kind: KindJWT, raw: s}, nil
	}
	return Token{}, fail(ErrInvalidToken)
}

// opaqueKind returns the kind of a syntactically valid opaque token.
func opaqueKind(s string) Kind {
	i := strings.IndexByte(s, '_')
	if i < 2 || i > 3 || len(s) != i+1+TokenHexLen || !isLowerHex(s[i+1:]) {
		return KindNone
	}
	switch s[:i] {
	case "wl":
		return KindAccount
	case "wls":
		return KindSession
	case "wld":
		return KindDevice
	case "wlm":
		return KindMCP
	case "wdt":
		return KindDownload
	case "wet":
		return KindEventTicket
	}
	return KindNone
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isJWTSyntax reports whether s is three non-empty dot-separated base64url
// segments (no padding) within MaxJWTLen bytes.
func isJWTSyntax(s string) bool {
	if len(s) == 0 || len(s) > MaxJWTLen {
		return false
	}
	dots, seg := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if seg == 0 {
				return false
			}
			dots++
			seg = 0
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			seg++
		default:
			return false
		}
	}
	return dots == 2 && seg > 0
}

// newOpaqueToken draws a fresh opaque token of kind k from r.
func newOpaqueToken(r io.Reader, k Kind) (Token, error) {
	var b [TokenRandomBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Token{}, fmt.Errorf("auth: reading randomness: %w", err)
	}
	p := k.Prefix()
	buf := make([]byte, len(p)+TokenHexLen)
	copy(buf, p)
	hex.Encode(buf[len(p):], b[:])
	return Token{kind: k, raw: string(buf)}, nil
}

// Kind returns the token's kind (KindNone for the zero Token).
func (t Token) Kind() Kind { return t.kind }

// IsZero reports whether t is the zero Token (no token).
func (t Token) IsZero() bool { return t.raw == "" }

// Reveal returns the raw secret. Call it only to put a freshly issued
// token into the one answer that hands it out, or to send a token as a
// credential; never to log or store it.
func (t Token) Reveal() string { return t.raw }

// Hash returns the SHA-256 of the token's exact text.
func (t Token) Hash() Hash { return sha256.Sum256([]byte(t.raw)) }

// Equal compares two tokens in constant time (for equal lengths).
func (t Token) Equal(u Token) bool {
	return t.kind == u.kind && subtle.ConstantTimeCompare([]byte(t.raw), []byte(u.raw)) == 1
}

// Hint returns the non-secret hint of an opaque token: its prefix, the first
// four hex digits and "…" (API.md §3.0 api_token_hint, token_hint); for a
// claim code its first four characters. Other kinds give "".
func (t Token) Hint() string {
	switch {
	case t.kind.opaque():
		p := t.kind.Prefix()
		return t.raw[:len(p)+4] + "…"
	case t.kind == KindClaimCode && len(t.raw) >= 4:
		return t.raw[:4]
	}
	return ""
}

// String returns a redacted form: the hint followed by "(redacted)", or
// "[redacted <kind>]".
func (t Token) String() string {
	if t.raw == "" {
		return "<none>"
	}
	if h := t.Hint(); h != "" && t.kind != KindClaimCode {
		return h + "(redacted)"
	}
	return "[redacted " + t.kind.String() + "]"
}

// GoString is String: %#v never shows the secret either.
func (t Token) GoString() string { return t.String() }

// Format prints the redacted form for every verb (quoted for %q).
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String()) }

func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	io.WriteString(f, s)
}

// LogValue implements slog.LogValuer with the redacted form.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalText gives the redacted form, so a Token marshalled by accident
// leaks nothing; put Reveal() into the response field instead.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

var (
	_ fmt.Stringer   = Token{}
	_ fmt.Formatter  = Token{}
	_ fmt.GoStringer = Token{}
	_ slog.LogValuer = Token{}
)

// hashString is the SHA-256 of s.
func hashString(s string) Hash { return sha256.Sum256([]byte(s)) }
