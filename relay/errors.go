package relay

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Close codes of API.md §4.7. The close reason sent with each is its name
// (for 1008, the auth error code of §4.2).
const (
	CloseNormal          = 1000 // orderly close by either side
	CloseGoingAway       = 1001 // node draining or stopping, preceded by a reconnect frame
	CloseUnsupportedData = 1003 // binary frame
	ClosePolicyViolation = 1008 // any auth failure; reason = the auth code
	CloseMessageTooBig   = 1009 // frame over MaxFrameBytes
	CloseInternalError   = 1011 // relay fault
	CloseServiceRestart  = 1012 // restore or restart
	CloseTokenRevoked    = 4001 // credential revoked
	CloseTokenExpired    = 4002 // the session token expired while connected
	CloseAgentReplaced   = 4003 // another connection authenticated as the same agent
	CloseAgentDeleted    = 4004 // agent removed
	CloseAccountDisabled = 4005 // owner disabled or deleted
	CloseProtocolError   = 4006 // repeated invalid frames
	CloseSlowConsumer    = 4007 // send queue overflow
	CloseQuotaExceeded   = 4008 // max_requests used up
	CloseHeartbeat       = 4009 // no life sign for two heartbeat periods
	CloseFlooding        = 4010 // sustained rate-limit violations
)

// closeNames maps each close code of API.md §4.7 to its name, the close
// reason the relay sends with it.
var closeNames = map[int]string{
	CloseNormal:          "NORMAL",
	CloseGoingAway:       "GOING_AWAY",
	CloseUnsupportedData: "UNSUPPORTED_DATA",
	ClosePolicyViolation: "POLICY_VIOLATION",
	CloseMessageTooBig:   "MESSAGE_TOO_BIG",
	CloseInternalError:   "INTERNAL_ERROR",
	CloseServiceRestart:  "SERVICE_RESTART",
	CloseTokenRevoked:    "TOKEN_REVOKED",
	CloseTokenExpired:    "TOKEN_EXPIRED",
	CloseAgentReplaced:   "AGENT_REPLACED",
	CloseAgentDeleted:    "AGENT_DELETED",
	CloseAccountDisabled: "ACCOUNT_DISABLED",
	CloseProtocolError:   "PROTOCOL_ERROR",
	CloseSlowConsumer:    "SLOW_CONSUMER",
	CloseQuotaExceeded:   "QUOTA_EXCEEDED",
	CloseHeartbeat:       "HEARTBEAT_TIMEOUT",
	CloseFlooding:        "FLOODING",
}

// CloseName returns the API.md §4.7 name of a close code ("TOKEN_REVOKED"
// for 4001), or the code in decimal when it has none.
func CloseName(code int) string {
	if n, ok := closeNames[code]; ok {
		return n
	}
	return strconv.Itoa(code)
}

// Auth error codes of API.md §4.2, carried by a failed auth_response.
const (
	CodeAuthTimeout        = "AUTH_TIMEOUT"
	CodeAuthRequired       = "AUTH_REQUIRED"
	CodeInvalidMessage     = "INVALID_MESSAGE"
	CodeInvalidToken       = "INVALID_TOKEN"
	CodeTokenExpired       = "TOKEN_EXPIRED"
	CodeTokenRevoked       = "TOKEN_REVOKED"
	CodeTokenScopeMismatch = "TOKEN_SCOPE_MISMATCH"
	CodeAgentMismatch      = "AGENT_MISMATCH"
	CodeAccountDisabled    = "ACCOUNT_DISABLED"
	CodeConnectionLimit    = "CONNECTION_LIMIT"
	CodeRateLimited        = "RATE_LIMITED"
	// CodeServiceUnavailable is sent when the Authenticator fails for a
	// reason other than the credentials (its error is not an *AuthError);
	// the connection is then closed 1011, not 1008, so the peer backs off
	// and retries instead of treating its credentials as bad.
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
	// CodeUnknownType is the code of an error frame for a frame whose type
	// the relay does not accept from that peer.
	CodeUnknownType = "UNKNOWN_TYPE"
)

// AuthError is an authentication refusal: Code is one of the auth codes of
// API.md §4.2 and goes to the peer in the failed auth_response, followed by
// close 1008. Message is shown to the peer too, so it must not carry
// secrets or internal detail. RetryAfter, when positive, is sent as
// retry_after_s (RATE_LIMITED, CONNECTION_LIMIT).
type AuthError struct {
	Code       string
	Message    string
	RetryAfter time.Duration
}

var _ error = (*AuthError)(nil)

func (e *AuthError) Error() string {
	if e.Message == "" {
		return "relay: authentication failed: " + e.Code
	}
	return fmt.Sprintf("relay: authentication failed: %s: %s", e.Code, e.Message)
}

// Is reports whether target is an *AuthError with the same Code, so
// errors.Is(err, relay.ErrInvalidToken) works for any message.
func (e *AuthError) Is(target error) bool {
	var t *AuthError
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// Authentication refusals an Authenticator returns (compared with errors.Is
// by Code; return a fresh &AuthError{...} to add a message or RetryAfter).
var (
	ErrInvalidToken       = &AuthError{Code: CodeInvalidToken, Message: "invalid token"}
	ErrTokenExpired       = &AuthError{Code: CodeTokenExpired, Message: "token expired"}
	ErrTokenRevoked       = &AuthError{Code: CodeTokenRevoked, Message: "token revoked"}
	ErrTokenScopeMismatch = &AuthError{Code: CodeTokenScopeMismatch, Message: "token not accepted for this client type"}
	ErrAgentMismatch      = &AuthError{Code: CodeAgentMismatch, Message: "token does not belong to this agent"}
	ErrAccountDisabled    = &AuthError{Code: CodeAccountDisabled, Message: "account disabled"}
)

// Errors of the Server's own methods.
var (
	// ErrClosed is returned by Kick and Shutdown on a closed Server.
	ErrClosed = errors.New("relay: server closed")
	// ErrInvalidTarget is returned by Kick for a Target without Account
	// (and not All) or with an unknown Kind.
	ErrInvalidTarget = errors.New("relay: invalid kick target")
	// ErrInvalidCode is returned by Kick for a close code outside 1000–4999
	// or one that must not be sent on the wire (1004–1006, 1015).
	ErrInvalidCode = errors.New("relay: invalid close code")
	// ErrTooManyKicks is returned by Kick when the node already holds
	// MaxPendingKicks kicks scheduled for a future time.
	ErrTooManyKicks = errors.New("relay: too many scheduled kicks")
	// ErrBadMessage is returned by Message.UnmarshalBinary for data that is
	// not a broker message of this version.
	ErrBadMessage = errors.New("relay: malformed broker message")
)
