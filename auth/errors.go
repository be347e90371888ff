package auth

import (
	"errors"
	"strings"
	"time"
)

// Code is a stable error code of the API catalog (API.md §2). The REST layer
// maps each code to its HTTP status in one place; the relay uses the codes
// marked ‡ there in its auth_response frames.
type Code string

// The codes this package returns. Each has a sentinel *Error below.
const (
	CodeValidationFailed      Code = "VALIDATION_FAILED"
	CodeSetupRequired         Code = "SETUP_REQUIRED"
	CodeAlreadyInitialized    Code = "ALREADY_INITIALIZED"
	CodeRegistrationDisabled  Code = "REGISTRATION_DISABLED"
	CodeAuthRequired          Code = "AUTH_REQUIRED"
	CodeInvalidToken          Code = "INVALID_TOKEN"
	CodeTokenExpired          Code = "TOKEN_EXPIRED"
	CodeTokenRevoked          Code = "TOKEN_REVOKED"
	CodeTokenScopeMismatch    Code = "TOKEN_SCOPE_MISMATCH"
	CodeInvalidCredentials    Code = "INVALID_CREDENTIALS"
	CodeTOTPRequired          Code = "TOTP_REQUIRED"
	CodeTOTPInvalid           Code = "TOTP_INVALID"
	CodeAccountLocked         Code = "ACCOUNT_LOCKED"
	CodeAccountDisabled       Code = "ACCOUNT_DISABLED"
	CodeReauthRequired        Code = "REAUTH_REQUIRED"
	CodePasswordTooWeak       Code = "PASSWORD_TOO_WEAK"
	CodePasswordUnchanged     Code = "PASSWORD_UNCHANGED"
	CodeTOTPAlreadyEnabled    Code = "TOTP_ALREADY_ENABLED"
	CodeTOTPNotEnabled        Code = "TOTP_NOT_ENABLED"
	CodeTOTPNotEnrolled       Code = "TOTP_NOT_ENROLLED"
	CodeClaimCodeInvalid      Code = "CLAIM_CODE_INVALID"
	CodeClaimCodeExpired      Code = "CLAIM_CODE_EXPIRED"
	CodeClaimCodeUsed         Code = "CLAIM_CODE_USED"
	CodeForbidden             Code = "FORBIDDEN"
	CodeLastAdmin             Code = "LAST_ADMIN"
	CodeUserNotFound          Code = "USER_NOT_FOUND"
	CodeAgentNotFound         Code = "AGENT_NOT_FOUND"
	CodeSessionNotFound       Code = "SESSION_NOT_FOUND"
	CodeClaimCodeNotFound     Code = "CLAIM_CODE_NOT_FOUND"
	CodeMCPTokenNotFound      Code = "MCP_TOKEN_NOT_FOUND"
	CodeUsernameTaken         Code = "USERNAME_TAKEN"
	CodeAgentIDTaken          Code = "AGENT_ID_TAKEN"
	CodeMCPTokenNameTaken     Code = "MCP_TOKEN_NAME_TAKEN"
	CodeDeviceLimitReached    Code = "DEVICE_LIMIT_REACHED"
	CodeClaimCodeLimitReached Code = "CLAIM_CODE_LIMIT_REACHED"
	CodeMCPTokenLimitReached  Code = "MCP_TOKEN_LIMIT_REACHED"
	CodeRateLimited           Code = "RATE_LIMITED"
)

// Error is the one error type of the domain: every validation or
// authentication failure this package returns is an *Error carrying a stable
// Code, so callers branch with errors.Is against the sentinels below (which
// compare by code) or errors.As to read the fields.
//
// Message is safe to show to the caller: it never contains a secret, a token,
// a password or internal error text. Failures of the Store (I/O) are not
// *Error values; they are returned wrapped, and the REST layer answers them
// with INTERNAL_ERROR or SERVICE_UNAVAILABLE.
type Error struct {
	Code    Code
	Message string

	// Fields lists the rule violations of VALIDATION_FAILED.
	Fields []FieldError
	// Reasons lists, for PASSWORD_TOO_WEAK, a subset of "too_short",
	// "too_long", "common", "contains_username".
	Reasons []string
	// LockedUntil is the end of the lockout (ACCOUNT_LOCKED).
	LockedUntil time.Time
	// RetryAfter is how long to wait (ACCOUNT_LOCKED, RATE_LIMITED).
	RetryAfter time.Duration
	// Limit is the limit that was reached (DEVICE_LIMIT_REACHED,
	// CLAIM_CODE_LIMIT_REACHED, MCP_TOKEN_LIMIT_REACHED, RATE_LIMITED: the
	// number of requests a window admits).
	Limit int
	// Scope names the rate limiter of RATE_LIMITED ("login", "bind", "totp").
	Scope string
}

var _ error = (*Error)(nil)

// FieldError is one rule violation: Field is the JSON path of the input
// (for example "targets[0].mac"), Rule the violated rule ("required", "max",
// "pattern", "reserved", "mac", ...), Param its parameter if any.
type FieldError struct {
	Field string
	Rule  string
	Param string
}

// Error implements error. The text is "auth: " plus the safe message.
func (e *Error) Error() string {
	if e.Message == "" {
		return "auth: " + strings.ToLower(string(e.Code))
	}
	return "auth: " + e.Message
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, auth.ErrTokenExpired) holds for every TOKEN_EXPIRED error
// whatever its fields.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The sentinels, one per code; compare with errors.Is. They are never
// returned themselves (so their fields are never filled in by accident):
// the package returns fresh copies.
var (
	ErrValidationFailed      = &Error{Code: CodeValidationFailed, Message: "validation failed"}
	ErrSetupRequired         = &Error{Code: CodeSetupRequired, Message: "setup required"}
	ErrAlreadyInitialized    = &Error{Code: CodeAlreadyInitialized, Message: "already initialized"}
	ErrRegistrationDisabled  = &Error{Code: CodeRegistrationDisabled, Message: "registration is closed"}
	ErrAuthRequired          = &Error{Code: CodeAuthRequired, Message: "authentication required"}
	ErrInvalidToken          = &Error{Code: CodeInvalidToken, Message: "invalid token"}
	ErrTokenExpired          = &Error{Code: CodeTokenExpired, Message: "token expired"}
	ErrTokenRevoked          = &Error{Code: CodeTokenRevoked, Message: "token revoked"}
	ErrTokenScopeMismatch    = &Error{Code: CodeTokenScopeMismatch, Message: "credential not accepted here"}
	ErrInvalidCredentials    = &Error{Code: CodeInvalidCredentials, Message: "invalid credentials"}
	ErrTOTPRequired          = &Error{Code: CodeTOTPRequired, Message: "totp code required"}
	ErrTOTPInvalid           = &Error{Code: CodeTOTPInvalid, Message: "invalid totp or recovery code"}
	ErrAccountLocked         = &Error{Code: CodeAccountLocked, Message: "account locked"}
	ErrAccountDisabled       = &Error{Code: CodeAccountDisabled, Message: "account disabled"}
	ErrReauthRequired        = &Error{Code: CodeReauthRequired, Message: "re-authentication required"}
	ErrPasswordTooWeak       = &Error{Code: CodePasswordTooWeak, Message: "password too weak"}
	ErrPasswordUnchanged     = &Error{Code: CodePasswordUnchanged, Message: "new password equals the current one"}
	ErrTOTPAlreadyEnabled    = &Error{Code: CodeTOTPAlreadyEnabled, Message: "totp already enabled"}
	ErrTOTPNotEnabled        = &Error{Code: CodeTOTPNotEnabled, Message: "totp not enabled"}
	ErrTOTPNotEnrolled       = &Error{Code: CodeTOTPNotEnrolled, Message: "no live totp enrollment"}
	ErrClaimCodeInvalid      = &Error{Code: CodeClaimCodeInvalid, Message: "invalid claim code"}
	ErrClaimCodeExpired      = &Error{Code: CodeClaimCodeExpired, Message: "claim code expired"}
	ErrClaimCodeUsed         = &Error{Code: CodeClaimCodeUsed, Message: "claim code already used"}
	ErrForbidden             = &Error{Code: CodeForbidden, Message: "forbidden"}
	ErrLastAdmin             = &Error{Code: CodeLastAdmin, Message: "the last enabled admin cannot be removed"}
	ErrUserNotFound          = &Error{Code: CodeUserNotFound, Message: "user not found"}
	ErrAgentNotFound         = &Error{Code: CodeAgentNotFound, Message: "agent not found"}
	ErrSessionNotFound       = &Error{Code: CodeSessionNotFound, Message: "session not found"}
	ErrClaimCodeNotFound     = &Error{Code: CodeClaimCodeNotFound, Message: "claim code not found"}
	ErrMCPTokenNotFound      = &Error{Code: CodeMCPTokenNotFound, Message: "mcp token not found"}
	ErrUsernameTaken         = &Error{Code: CodeUsernameTaken, Message: "username taken"}
	ErrAgentIDTaken          = &Error{Code: CodeAgentIDTaken, Message: "agent id taken"}
	ErrMCPTokenNameTaken     = &Error{Code: CodeMCPTokenNameTaken, Message: "mcp token name taken"}
	ErrDeviceLimitReached    = &Error{Code: CodeDeviceLimitReached, Message: "agent limit reached"}
	ErrClaimCodeLimitReached = &Error{Code: CodeClaimCodeLimitReached, Message: "too many active claim codes"}
	ErrMCPTokenLimitReached  = &Error{Code: CodeMCPTokenLimitReached, Message: "too many active mcp tokens"}
	ErrRateLimited           = &Error{Code: CodeRateLimited, Message: "rate limited"}
)

// fail returns a fresh copy of a sentinel, so fields can be set on it.
func fail(sentinel *Error) *Error {
	e := *sentinel
	return &e
}

// invalid returns a VALIDATION_FAILED error for the given violations.
func invalid(fields ...FieldError) *Error {
	e := fail(ErrValidationFailed)
	e.Fields = fields
	return e
}

// CodeOf returns the Code of err if it is (or wraps) an *Error, else "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// validator collects field errors.
type validator struct{ errs []FieldError }

func (v *validator) add(field, rule, param string) {
	// Bounded: inputs are bounded (≤ 32 targets of 4 fields), and so is this.
	if len(v.errs) < 64 {
		v.errs = append(v.errs, FieldError{Field: field, Rule: rule, Param: param})
	}
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return invalid(v.errs...)
}
