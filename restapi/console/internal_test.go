package console

import (
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(cursor{List: cursorAgents, Sort: "name", Desc: true, Str: "Kitchen Pi", ID: "pi", Owner: "usr_x"}), "agents", "name", true)
	f.Add(encodeCursor(cursor{List: cursorAudit, ID: "aud_01"}), "audit", "", false)
	f.Add("", "users", "", false)
	f.Add("eyJsIjoidXNlcnMiLCJpIjoidXNyX3gifQ", "users", "", false)
	f.Add("!!!", "agents", "agent_id", false)
	f.Fuzz(func(t *testing.T, s, list, sort string, desc bool) {
		c, err := decodeCursor(s, list, sort, desc)
		if err != nil || c == nil {
			return
		}
		if c.List != list || c.Sort != sort || c.Desc != desc || c.ID == "" {
			t.Fatalf("accepted a cursor of another list or order: %+v", c)
		}
		// What decodes re-encodes to something that decodes the same.
		c2, err := decodeCursor(encodeCursor(*c), list, sort, desc)
		if err != nil || *c2 != *c {
			t.Fatalf("round trip: %+v -> %+v, %v", c, c2, err)
		}
	})
}

func TestRelayDenyMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{auth.ErrInvalidToken, relay.CodeInvalidToken},
		{auth.ErrTokenExpired, relay.CodeTokenExpired},
		{auth.ErrTokenRevoked, relay.CodeTokenRevoked},
		{auth.ErrTokenScopeMismatch, relay.CodeTokenScopeMismatch},
		{auth.ErrAccountDisabled, relay.CodeAccountDisabled},
		{auth.ErrAuthRequired, relay.CodeInvalidMessage},
		{&auth.Error{Code: auth.CodeRateLimited, RetryAfter: 3 * time.Second}, relay.CodeRateLimited},
		{auth.ErrUserNotFound, relay.CodeInvalidToken},
	} {
		d, ok := relayDeny(tc.err)
		if !ok || d.Allowed || d.Error != tc.code {
			t.Fatalf("%v: %+v, want %s", tc.err, d, tc.code)
		}
		if tc.code == relay.CodeRateLimited && d.RetryAfter != 3*time.Second {
			t.Fatalf("retry after %v", d.RetryAfter)
		}
	}
	if _, ok := relayDeny(errBadCursor); ok {
		t.Fatal("a fault mapped to a deny")
	}
}

// TestHTTPStatus checks every code the console returns has its API.md §2
// status.
func TestHTTPStatus(t *testing.T) {
	for code, want := range map[Code]int{
		auth.CodeValidationFailed: 400, auth.CodePasswordTooWeak: 400, auth.CodeAuthRequired: 401, auth.CodeInvalidToken: 401,
		auth.CodeTokenExpired: 401, auth.CodeClaimCodeExpired: 401, CodeInternalKeyInvalid: 401, auth.CodeTokenScopeMismatch: 403,
		auth.CodeForbidden: 403, auth.CodeRegistrationDisabled: 403, auth.CodeAgentNotFound: 404, CodeNotFound: 404,
		auth.CodeLastAdmin: 409, CodeIdempotencyKeyReused: 409, auth.CodeClaimCodeUsed: 409, auth.CodeDeviceLimitReached: 409,
		auth.CodeAccountLocked: 423, auth.CodeSetupRequired: 428, auth.CodeRateLimited: 429, CodeServiceUnavailable: 503,
		CodeInternalError: 500, "SOMETHING_NEW": 500,
	} {
		if got := HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestValidLocale(t *testing.T) {
	for s, want := range map[string]bool{"en": true, "de-CH": true, "zh-Hant-TW": true, "e": false, "en-": false,
		"-en": false, "en--US": false, "1en": false, "abcdefghi": false, "en-123456789": false, "en_US": false} {
		if validLocale(s) != want {
			t.Errorf("validLocale(%q) = %v", s, !want)
		}
	}
}
