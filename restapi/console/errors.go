package console

import (
	"context"
	"errors"
	"fmt"

	"github.com/wakelink-go/wakelink/auth"
)

// Error is the one error type of the console layer and of auth below it:
// every failure a caller can act on is an *Error carrying a stable Code of
// API.md §2, with the detail fields the API reports (Fields, Reasons,
// LockedUntil, RetryAfter, Limit, Scope). The REST layer maps it to HTTP in
// one place: CodeOf(err), then HTTPStatus. Messages are safe to show; they
// never contain a secret or internal error text.
//
// It is auth.Error itself (a type alias), so errors auth returns pass
// through unchanged and errors.Is against the sentinels of either package
// compares by code.
type Error = auth.Error

// Code is a stable error code of API.md §2.
type Code = auth.Code

// FieldError is one rule violation of VALIDATION_FAILED.
type FieldError = auth.FieldError

// Codes the console layer adds to auth's (auth.Code* are the others; every
// code of API.md §2 that this layer returns is one of the two sets).
const (
	CodeIdempotencyKeyReused Code = "IDEMPOTENCY_KEY_REUSED"
	CodeServiceUnavailable   Code = "SERVICE_UNAVAILABLE"
	CodeInternalError        Code = "INTERNAL_ERROR"
	CodeNotFound             Code = "NOT_FOUND"
	CodeInternalKeyInvalid   Code = "INTERNAL_KEY_INVALID"
)

// Sentinels of the console codes, compared with errors.Is (by code, like
// auth's). They are never returned themselves: the package returns copies.
var (
	ErrIdempotencyKeyReused = &Error{Code: CodeIdempotencyKeyReused, Message: "idempotency key reused for another request, or the first is still running"}
	ErrServiceUnavailable   = &Error{Code: CodeServiceUnavailable, Message: "service unavailable, retry later"}
	ErrNotFound             = &Error{Code: CodeNotFound, Message: "not found"}
	ErrInternalKeyInvalid   = &Error{Code: CodeInternalKeyInvalid, Message: "internal key missing or wrong"}
)

// ErrUnavailable marks a failure of a collaborator that is down or
// overloaded (the database unreachable or busy, the event hub shut down):
// CodeOf answers SERVICE_UNAVAILABLE for every error that wraps it. The
// console layer wraps such errors itself (Store.Unavailable classifies the
// database's); the cause stays in the chain for the server's log.
var ErrUnavailable = errors.New("console: unavailable")

// CodeOf returns the API code of an error returned by this package: the
// Code of an *Error, SERVICE_UNAVAILABLE for errors wrapping ErrUnavailable
// (and for context deadline errors: a collaborator too slow to answer),
// INTERNAL_ERROR for anything else, "" for nil. The REST layer answers
// INTERNAL_ERROR and SERVICE_UNAVAILABLE without the error's text (API.md
// §1.2) and logs the error with the request id.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return CodeServiceUnavailable
	}
	return CodeInternalError
}

// HTTPStatus returns the HTTP status of a code (API.md §2): 400 for
// unknown codes would hide bugs, so an unknown code answers 500.
func HTTPStatus(c Code) int {
	switch c {
	case auth.CodeValidationFailed, auth.CodePasswordTooWeak, auth.CodePasswordUnchanged:
		return 400
	case auth.CodeAuthRequired, auth.CodeInvalidToken, auth.CodeTokenExpired, auth.CodeTokenRevoked,
		auth.CodeInvalidCredentials, auth.CodeTOTPRequired, auth.CodeTOTPInvalid, auth.CodeReauthRequired,
		auth.CodeClaimCodeInvalid, auth.CodeClaimCodeExpired, CodeInternalKeyInvalid:
		return 401
	case auth.CodeTokenScopeMismatch, auth.CodeAccountDisabled, auth.CodeForbidden,
		auth.CodeRegistrationDisabled, "HOST_REJECTED", "ORIGIN_REJECTED":
		return 403
	case CodeNotFound, auth.CodeUserNotFound, auth.CodeAgentNotFound, auth.CodeSessionNotFound,
		auth.CodeClaimCodeNotFound, auth.CodeMCPTokenNotFound:
		return 404
	case auth.CodeAlreadyInitialized, auth.CodeTOTPAlreadyEnabled, auth.CodeTOTPNotEnabled,
		auth.CodeTOTPNotEnrolled, auth.CodeClaimCodeUsed, auth.CodeLastAdmin, auth.CodeUsernameTaken,
		auth.CodeAgentIDTaken, auth.CodeMCPTokenNameTaken, auth.CodeDeviceLimitReached,
		auth.CodeClaimCodeLimitReached, auth.CodeMCPTokenLimitReached, CodeIdempotencyKeyReused:
		return 409
	case auth.CodeAccountLocked:
		return 423
	case auth.CodeSetupRequired:
		return 428
	case auth.CodeRateLimited:
		return 429
	case CodeServiceUnavailable:
		return 503
	}
	return 500
}

// fail returns a fresh copy of a sentinel, so fields can be set on it.
func fail(sentinel *Error) *Error {
	e := *sentinel
	return &e
}

// invalid returns VALIDATION_FAILED for the given violations.
func invalid(fields ...FieldError) *Error {
	e := fail(auth.ErrValidationFailed)
	e.Fields = fields
	return e
}

// validator collects field errors.
type validator struct{ errs []FieldError }

func (v *validator) add(field, rule, param string) {
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

// wrap classifies an error leaving a use case: *Error values and context
// cancellation pass unchanged, database failures the Store reports as
// unavailable get ErrUnavailable added to their chain, anything else is
// wrapped with the operation's name (INTERNAL_ERROR).
func (s *Service) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded) || s.store.Unavailable(err):
		return fmt.Errorf("console: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("console: %s: %w", op, err)
}
