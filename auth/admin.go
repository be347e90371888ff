package auth

import (
	"context"
	"errors"
	"time"
)

// CreateUser creates an account for an admin (POST /admin/users); its wl_
// is minted at its first login. USERNAME_TAKEN, PASSWORD_TOO_WEAK,
// VALIDATION_FAILED.
func (s *Service) CreateUser(ctx context.Context, a NewAccount) (User, error) {
	role := a.Role
	if role == "" {
		role = RoleUser
	}
	if role != RoleAdmin && role != RoleUser {
		return User{}, invalid(FieldError{Field: "role", Rule: "oneof", Param: "admin user"})
	}
	name, err := s.checkAccount(a)
	if err != nil {
		return User{}, err
	}
	u, err := s.newUser(ctx, name, a, role)
	if err != nil {
		return User{}, err
	}
	switch err := s.store.CreateUser(ctx, u); {
	case errors.Is(err, ErrConflict):
		return User{}, fail(ErrUsernameTaken)
	case err != nil:
		return User{}, storeErr("creating a user", err)
	}
	return u, nil
}

// ResetPassword sets a user's password for an admin (POST
// /admin/users/{id}/reset-password), with the revocation of a password
// change: JWTs, sessions and the wl_ (a new one at the next login). With
// disableTOTP the user's 2FA is turned off. It returns the user and the
// revoked credential ids.
func (s *Service) ResetPassword(ctx context.Context, userID, newPassword string, disableTOTP bool) (User, []string, error) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return User{}, nil, userErr(err)
	}
	if err := s.policy.check("new_password", newPassword, u.Username); err != nil {
		return User{}, nil, err
	}
	h, err := s.hasher.hash(ctx, newPassword)
	if err != nil {
		return User{}, nil, err
	}
	hash, empty := Secret(h), ""
	patch := UserPatch{PasswordHash: &hash, BumpGeneration: true, APITokenHint: &empty}
	if disableTOTP {
		addTOTPOff(&patch)
	}
	var revoked []string
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		now := s.clock()
		var err error
		if u, err = s.store.UpdateUser(ctx, userID, patch); err != nil {
			return userErr(err)
		}
		if disableTOTP {
			if err := s.store.ReplaceRecoveryCodes(ctx, userID, nil); err != nil {
				return userErr(err)
			}
		}
		sessions, err := s.store.RevokeCredentials(ctx, userID, Selector{Kinds: []Kind{KindSession}}, now)
		if err != nil {
			return storeErr("revoking sessions", err)
		}
		tokens, err := s.revokeAPITokens(ctx, userID, now)
		if err != nil {
			return err
		}
		revoked = append(sessions, tokens...)
		return nil
	})
	if err != nil {
		return User{}, nil, err
	}
	s.invalidate(ctx, userID)
	return u, revoked, nil
}

// User returns a user, or USER_NOT_FOUND.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, userErr(err)
	}
	return u, nil
}

// ListUsers returns up to limit users (1-200) with id > after.
func (s *Service) ListUsers(ctx context.Context, after string, limit int) ([]User, error) {
	if limit < 1 || limit > 200 {
		return nil, invalid(FieldError{Field: "limit", Rule: "range", Param: "1-200"})
	}
	us, err := s.store.ListUsers(ctx, after, limit)
	if err != nil {
		return nil, storeErr("listing users", err)
	}
	return us, nil
}

// AgentsLimit returns a user's effective agent limit (0: unlimited).
func (s *Service) AgentsLimit(u User) int {
	if u.AgentsLimit == AgentsLimitDefault {
		return s.Settings().AgentsPerAccount
	}
	return u.AgentsLimit
}

// UserUpdate is an admin's change to a user (PATCH /admin/users/{id});
// nil fields are left alone.
type UserUpdate struct {
	Role     *Role
	Disabled *bool
	Email    *string // "" clears
	// AgentsLimit sets the override; ResetAgentsLimit returns to the
	// server setting (JSON null).
	AgentsLimit      *int
	ResetAgentsLimit bool
}

// UpdateUser applies an admin's change. Disabling a user revokes every
// credential it has, device tokens included (returned for the kicks, 4005).
// LAST_ADMIN when it would leave no enabled admin.
func (s *Service) UpdateUser(ctx context.Context, id string, up UserUpdate) (User, []string, error) {
	var v validator
	if up.Role != nil && *up.Role != RoleAdmin && *up.Role != RoleUser {
		v.add("role", "oneof", "admin user")
	}
	if up.Email != nil {
		if err := checkEmail("email", *up.Email); err != nil {
			return User{}, nil, err
		}
	}
	if up.AgentsLimit != nil && *up.AgentsLimit < 0 {
		v.add("agents_limit", "min", "0")
	}
	if err := v.err(); err != nil {
		return User{}, nil, err
	}
	patch := UserPatch{Role: up.Role, Disabled: up.Disabled, Email: up.Email, AgentsLimit: up.AgentsLimit}
	if up.Disabled != nil && *up.Disabled {
		// Every credential goes: JWTs by the generation bump, the rest
		// below. A new wl_ is minted at the first login after re-enabling.
		empty := ""
		patch.APITokenHint = &empty
		patch.BumpGeneration = true
	}
	if up.ResetAgentsLimit {
		d := AgentsLimitDefault
		patch.AgentsLimit = &d
	}
	var (
		u       User
		revoked []string
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if u, err = s.store.UpdateUser(ctx, id, patch); err != nil {
			return userErr(err)
		}
		revoked = nil
		if up.Disabled != nil && *up.Disabled {
			if revoked, err = s.store.RevokeCredentials(ctx, id, Selector{}, s.clock()); err != nil {
				return storeErr("revoking credentials", err)
			}
		}
		return nil
	})
	if err != nil {
		return User{}, nil, err
	}
	s.invalidate(ctx, id)
	return u, revoked, nil
}

// Unlock clears a user's lockout (POST /admin/users/{id}/unlock).
func (s *Service) Unlock(ctx context.Context, id string) (User, error) {
	zero, none := 0, time.Time{}
	u, err := s.store.UpdateUser(ctx, id, UserPatch{FailedLogins: &zero, Lockouts: &zero, LockedUntil: &none})
	if err != nil {
		return User{}, userErr(err)
	}
	return u, nil
}

// DeleteUser deletes a user and everything it owns (agents, sessions,
// tokens, claim codes, MCP tokens). USER_NOT_FOUND, LAST_ADMIN. The caller
// kicks the account's connections (4005).
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	if err := s.store.DeleteUser(ctx, id); err != nil {
		return userErr(err)
	}
	s.invalidate(ctx, id)
	return nil
}
