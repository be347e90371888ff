package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AgentSpec is the input of CreateAgent (POST /agents).
type AgentSpec struct {
	// AgentID is optional: "" generates WL + 8 uppercase hex digits.
	AgentID  string
	Name     string
	Platform string // optional
	Channel  string // optional: stable
	Targets  []Target
}

// IssuedAgent is a created agent with its device token.
type IssuedAgent struct {
	Agent Agent
	// DeviceToken is the wld_; it is in no other answer.
	DeviceToken  Token
	CredentialID string // its tok_ id
}

// MaxRotateGrace bounds the grace of a device-token rotation.
const MaxRotateGrace = 600 * time.Second

func (s *Service) generateAgentID() (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("auth: reading randomness: %w", err)
	}
	return "WL" + strings.ToUpper(hex.EncodeToString(b[:])), nil
}

// freeAgentID returns want if it is usable and free for owner, else a
// generated id that is free.
func (s *Service) freeAgentID(ctx context.Context, ownerID, want string) (string, error) {
	if want != "" && ValidAgentID(want) && !ReservedAgentID(want) {
		switch _, err := s.store.Agent(ctx, ownerID, want); {
		case errors.Is(err, ErrNotFound):
			return want, nil
		case err != nil:
			return "", storeErr("looking an agent up", err)
		}
	}
	for range 8 {
		id, err := s.generateAgentID()
		if err != nil {
			return "", err
		}
		switch _, err := s.store.Agent(ctx, ownerID, id); {
		case errors.Is(err, ErrNotFound):
			return id, nil
		case err != nil:
			return "", storeErr("looking an agent up", err)
		}
	}
	return "", fail(ErrAgentIDTaken)
}

// CreateAgent registers an agent for owner and returns it with its device
// token (shown once). AGENT_ID_TAKEN, DEVICE_LIMIT_REACHED (the owner's
// effective limit, Error.Limit), VALIDATION_FAILED.
func (s *Service) CreateAgent(ctx context.Context, ownerID string, spec AgentSpec) (*IssuedAgent, error) {
	var v validator
	if spec.AgentID != "" {
		checkAgentID(&v, "agent_id", spec.AgentID)
	}
	checkAgentName(&v, "name", spec.Name)
	if spec.Platform != "" && !validPlatform(spec.Platform) {
		v.add("platform", "pattern", "^[a-z0-9][a-z0-9_-]{0,31}$")
	}
	if spec.Channel == "" {
		spec.Channel = DefaultChannel
	}
	if !validChannel(spec.Channel) {
		v.add("channel", "oneof", "stable beta dev")
	}
	targets := checkTargets(&v, spec.Targets)
	if err := v.err(); err != nil {
		return nil, err
	}
	var res *IssuedAgent
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.UserByID(ctx, ownerID)
		if err != nil {
			return userErr(err)
		}
		id := spec.AgentID
		if id == "" {
			if id, err = s.freeAgentID(ctx, ownerID, ""); err != nil {
				return err
			}
		}
		now := s.clock()
		a := Agent{
			OwnerID: ownerID, AgentID: id, Name: spec.Name, Platform: spec.Platform, Channel: spec.Channel,
			Targets: targets, CreatedAt: now, UpdatedAt: now,
		}
		if err := s.insertAgent(ctx, a, s.AgentsLimit(u)); err != nil {
			return err
		}
		tok, credID, err := s.mintDeviceToken(ctx, &a, now)
		if err != nil {
			return err
		}
		res = &IssuedAgent{Agent: a, DeviceToken: tok, CredentialID: credID}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// insertAgent maps CreateAgent's store errors.
func (s *Service) insertAgent(ctx context.Context, a Agent, limit int) error {
	switch err := s.store.CreateAgent(ctx, a, limit); {
	case errors.Is(err, ErrConflict):
		return fail(ErrAgentIDTaken)
	case errors.Is(err, ErrLimitReached):
		e := fail(ErrDeviceLimitReached)
		e.Limit = limit
		return e
	case errors.Is(err, ErrNotFound):
		return fail(ErrUserNotFound)
	case err != nil:
		return storeErr("creating an agent", err)
	}
	return nil
}

// mintDeviceToken stores a new wld_ for a and records its hint and
// rotation time on a (in the store too).
func (s *Service) mintDeviceToken(ctx context.Context, a *Agent, now time.Time) (Token, string, error) {
	tok, err := newOpaqueToken(s.rand, KindDevice)
	if err != nil {
		return Token{}, "", err
	}
	id, err := s.newID(PrefixCredential, now)
	if err != nil {
		return Token{}, "", err
	}
	c := Credential{ID: id, Kind: KindDevice, Hash: tok.Hash(), UserID: a.OwnerID, AgentID: a.AgentID, CreatedAt: now}
	switch _, err := s.store.CreateCredential(ctx, c, Limit{}); {
	case errors.Is(err, ErrNotFound):
		return Token{}, "", fail(ErrAgentNotFound)
	case err != nil:
		return Token{}, "", storeErr("storing a device token", err)
	}
	a.TokenHint, a.TokenRotatedAt, a.UpdatedAt = tok.Hint(), now, now
	if err := s.store.UpdateAgent(ctx, *a); err != nil {
		return Token{}, "", agentErr(err)
	}
	return tok, id, nil
}

func agentErr(err error) error {
	if errors.Is(err, ErrNotFound) {
		return fail(ErrAgentNotFound)
	}
	return storeErr("updating an agent", err)
}

// Agent returns one of owner's agents, or AGENT_NOT_FOUND (also for another
// account's agent).
func (s *Service) Agent(ctx context.Context, ownerID, agentID string) (Agent, error) {
	if !ValidAgentID(agentID) {
		return Agent{}, fail(ErrAgentNotFound)
	}
	a, err := s.store.Agent(ctx, ownerID, agentID)
	if err != nil {
		return Agent{}, agentErr(err)
	}
	return a, nil
}

// ListAgents returns up to limit (1-1000) of owner's agents with an id
// after after, in agent-id order.
func (s *Service) ListAgents(ctx context.Context, ownerID, after string, limit int) ([]Agent, error) {
	if limit < 1 || limit > 1000 {
		return nil, invalid(FieldError{Field: "limit", Rule: "range", Param: "1-1000"})
	}
	as, err := s.store.ListAgents(ctx, ownerID, after, limit)
	if err != nil {
		return nil, storeErr("listing agents", err)
	}
	return as, nil
}

// CountAgents returns the number of owner's agents.
func (s *Service) CountAgents(ctx context.Context, ownerID string) (int, error) {
	n, err := s.store.CountAgents(ctx, ownerID)
	if err != nil {
		return 0, storeErr("counting agents", err)
	}
	return n, nil
}

// AgentPatch is a change to an agent (PATCH /agents/{id}); nil fields are
// left alone, Targets replaces the whole list.
type AgentPatch struct {
	Name     *string
	Platform *string
	Channel  *string
	Targets  *[]Target
}

// UpdateAgent applies p. AGENT_NOT_FOUND, VALIDATION_FAILED.
func (s *Service) UpdateAgent(ctx context.Context, ownerID, agentID string, p AgentPatch) (Agent, error) {
	var v validator
	if p.Name != nil {
		checkAgentName(&v, "name", *p.Name)
	}
	if p.Platform != nil && *p.Platform != "" && !validPlatform(*p.Platform) {
		v.add("platform", "pattern", "^[a-z0-9][a-z0-9_-]{0,31}$")
	}
	if p.Channel != nil && !validChannel(*p.Channel) {
		v.add("channel", "oneof", "stable beta dev")
	}
	var targets []Target
	if p.Targets != nil {
		targets = checkTargets(&v, *p.Targets)
	}
	if err := v.err(); err != nil {
		return Agent{}, err
	}
	var a Agent
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if a, err = s.Agent(ctx, ownerID, agentID); err != nil {
			return err
		}
		if p.Name != nil {
			a.Name = *p.Name
		}
		if p.Platform != nil {
			a.Platform = *p.Platform
		}
		if p.Channel != nil {
			a.Channel = *p.Channel
		}
		if p.Targets != nil {
			a.Targets = targets
		}
		a.UpdatedAt = s.clock()
		return agentErr0(s.store.UpdateAgent(ctx, a))
	})
	if err != nil {
		return Agent{}, err
	}
	return a, nil
}

func agentErr0(err error) error {
	if err == nil {
		return nil
	}
	return agentErr(err)
}

// AgentSeen is what an agent declared at relay auth (display hints).
type AgentSeen struct {
	FirmwareVersion string   // semver or ""
	EWSPVersions    []string // subset of {"1.0","2"}, nil: unchanged
	Platform        string   // "" = unchanged
}

// RecordAgentSeen writes an agent's last_seen (at connect, disconnect and
// at most every 60 s between, API.md §3.2) and what it declared.
// AGENT_NOT_FOUND, VALIDATION_FAILED.
func (s *Service) RecordAgentSeen(ctx context.Context, ownerID, agentID string, at time.Time, seen AgentSeen) error {
	var v validator
	if seen.FirmwareVersion != "" && !validSemver(seen.FirmwareVersion) {
		v.add("firmware_version", "semver", "")
	}
	if seen.EWSPVersions != nil {
		checkEWSPVersions(&v, "ewsp_versions", seen.EWSPVersions)
	}
	if seen.Platform != "" && !validPlatform(seen.Platform) {
		v.add("platform", "pattern", "^[a-z0-9][a-z0-9_-]{0,31}$")
	}
	if err := v.err(); err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		a, err := s.Agent(ctx, ownerID, agentID)
		if err != nil {
			return err
		}
		a.LastSeen = at.UTC().Truncate(time.Millisecond)
		if seen.FirmwareVersion != "" {
			a.FirmwareVersion = seen.FirmwareVersion
		}
		if seen.EWSPVersions != nil {
			a.EWSPVersions = slices.Clone(seen.EWSPVersions)
		}
		if seen.Platform != "" {
			a.Platform = seen.Platform
		}
		return agentErr0(s.store.UpdateAgent(ctx, a))
	})
}

// DeleteAgent deletes one of owner's agents and its device token; it
// returns the revoked credential ids (the caller kicks the agent, 4004).
func (s *Service) DeleteAgent(ctx context.Context, ownerID, agentID string) ([]string, error) {
	var ids []string
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.Agent(ctx, ownerID, agentID); err != nil {
			return err
		}
		var err error
		ids, err = s.store.RevokeCredentials(ctx, ownerID, Selector{Kinds: []Kind{KindDevice}, AgentID: agentID}, s.clock())
		if err != nil {
			return storeErr("revoking a device token", err)
		}
		return agentErr0(s.store.DeleteAgent(ctx, ownerID, agentID))
	})
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, ownerID)
	return ids, nil
}

// DeviceRotation is the answer of RotateDeviceToken.
type DeviceRotation struct {
	Agent Agent
	// DeviceToken is the new wld_; it is in no other answer.
	DeviceToken  Token
	CredentialID string
	RotatedAt    time.Time
	// OldValidUntil is when the old token stops working (RotatedAt + grace).
	OldValidUntil time.Time
	// Revoked are the old token's credential ids: the caller kicks the
	// agent's connections carrying them (4001) at OldValidUntil, after the
	// transaction commits.
	Revoked []string
}

// RotateDeviceToken mints a new wld_ for an agent; the old one stays valid
// for grace (0-600 s) and is then revoked. AGENT_NOT_FOUND,
// VALIDATION_FAILED.
func (s *Service) RotateDeviceToken(ctx context.Context, ownerID, agentID string, grace time.Duration) (*DeviceRotation, error) {
	if grace < 0 || grace > MaxRotateGrace {
		return nil, invalid(FieldError{Field: "grace_s", Rule: "range", Param: "0-" + strconv.Itoa(int(MaxRotateGrace/time.Second))})
	}
	var res *DeviceRotation
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		a, err := s.Agent(ctx, ownerID, agentID)
		if err != nil {
			return err
		}
		now := s.clock()
		until := now.Add(grace.Truncate(time.Millisecond))
		old, err := s.store.RevokeCredentials(ctx, ownerID, Selector{Kinds: []Kind{KindDevice}, AgentID: agentID}, until)
		if err != nil {
			return storeErr("revoking a device token", err)
		}
		tok, id, err := s.mintDeviceToken(ctx, &a, now)
		if err != nil {
			return err
		}
		res = &DeviceRotation{Agent: a, DeviceToken: tok, CredentialID: id, RotatedAt: now, OldValidUntil: until, Revoked: old}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, ownerID)
	return res, nil
}
