package auth

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"
)

// Claim-code rules (API.md §3.2, §3.3).
const (
	DefaultClaimTTL   = 600 * time.Second
	MinClaimTTL       = 60 * time.Second
	MaxClaimTTL       = 3600 * time.Second
	MaxActiveClaims   = 10
	BindRetryWindow   = 5 * time.Minute
	minInstallIDLen   = 16
	maxInstallIDLen   = 64
	maxHostnameLength = 64
)

// ClaimRequest is the input of CreateClaimCode (POST /claim-codes).
type ClaimRequest struct {
	// AgentID names an existing agent to re-provision, or the id of the
	// new one; "" lets the bind choose.
	AgentID  string
	Name     string
	Platform string
	Channel  string
	TTL      time.Duration // 0: 600 s; else 60-3600 s
}

// IssuedClaim is a created claim code.
type IssuedClaim struct {
	// Code is the claim code (XXXX-XXXX-XXXX); it is in no other answer.
	Code  Token
	Claim ClaimCode
}

// CreateClaimCode issues a single-use claim code for owner. At most 10 are
// active per account (CLAIM_CODE_LIMIT_REACHED); a code for a new agent
// fails with DEVICE_LIMIT_REACHED when the owner is at the agent limit.
func (s *Service) CreateClaimCode(ctx context.Context, ownerID string, req ClaimRequest) (*IssuedClaim, error) {
	var v validator
	if req.AgentID != "" {
		checkAgentID(&v, "agent_id", req.AgentID)
	}
	if req.Name != "" {
		checkAgentName(&v, "name", req.Name)
	}
	if req.Platform != "" && !validPlatform(req.Platform) {
		v.add("platform", "pattern", "^[a-z0-9][a-z0-9_-]{0,31}$")
	}
	if req.Channel != "" && !validChannel(req.Channel) {
		v.add("channel", "oneof", "stable beta dev")
	}
	if req.TTL == 0 {
		req.TTL = DefaultClaimTTL
	}
	if req.TTL < MinClaimTTL || req.TTL > MaxClaimTTL {
		v.add("ttl_s", "range", "60-3600")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var res *IssuedClaim
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.UserByID(ctx, ownerID)
		if err != nil {
			return userErr(err)
		}
		existing := false
		if req.AgentID != "" {
			switch _, err := s.store.Agent(ctx, ownerID, req.AgentID); {
			case err == nil:
				existing = true
			case !errors.Is(err, ErrNotFound):
				return storeErr("looking an agent up", err)
			}
		}
		if limit := s.AgentsLimit(u); !existing && limit > 0 {
			n, err := s.store.CountAgents(ctx, ownerID)
			if err != nil {
				return storeErr("counting agents", err)
			}
			if n >= limit {
				e := fail(ErrDeviceLimitReached)
				e.Limit = limit
				return e
			}
		}
		now := s.clock()
		code, err := newClaimCode(s.rand)
		if err != nil {
			return err
		}
		id, err := s.newID(PrefixClaim, now)
		if err != nil {
			return err
		}
		c := ClaimCode{
			ID: id, OwnerID: ownerID, Hash: code.Hash(), CodeHint: code.Hint(),
			AgentID: req.AgentID, Name: req.Name, Platform: req.Platform, Channel: req.Channel,
			CreatedAt: now, ExpiresAt: now.Add(req.TTL.Truncate(time.Millisecond)),
		}
		switch err := s.store.CreateClaimCode(ctx, c, MaxActiveClaims); {
		case errors.Is(err, ErrLimitReached):
			e := fail(ErrClaimCodeLimitReached)
			e.Limit = MaxActiveClaims
			return e
		case errors.Is(err, ErrNotFound):
			return fail(ErrUserNotFound)
		case err != nil:
			// ErrConflict would be a 60-bit collision with a stored code.
			return storeErr("storing a claim code", err)
		}
		res = &IssuedClaim{Code: code, Claim: c}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ListClaimCodes returns owner's active (unused, unexpired) claim codes.
func (s *Service) ListClaimCodes(ctx context.Context, ownerID string) ([]ClaimCode, error) {
	cs, err := s.store.ListClaimCodes(ctx, ownerID, s.now())
	if err != nil {
		return nil, storeErr("listing claim codes", err)
	}
	return cs, nil
}

// DeleteClaimCode deletes one of owner's claim codes. CLAIM_CODE_NOT_FOUND.
func (s *Service) DeleteClaimCode(ctx context.Context, ownerID, claimID string) error {
	switch err := s.store.DeleteClaimCode(ctx, ownerID, claimID); {
	case errors.Is(err, ErrNotFound):
		return fail(ErrClaimCodeNotFound)
	case err != nil:
		return storeErr("deleting a claim code", err)
	}
	return nil
}

// BindRequest is the body of POST /api/client/bind.
type BindRequest struct {
	Code            string
	InstallID       string // 16-64 of [A-Za-z0-9_-]
	DeviceID        string // proposed agent id, optional
	Hostname        string // optional, ≤ 64
	Platform        string
	FirmwareVersion string   // semver, optional
	EWSPVersions    []string // subset of {"1.0","2"}
	RemoteIP        netip.Addr
}

// BindResult is the answer of Bind.
type BindResult struct {
	Agent Agent
	// DeviceToken is the agent's new wld_; it is in no other answer.
	DeviceToken  Token
	CredentialID string
	Claim        ClaimCode
	// Created is true when the bind created the agent.
	Created bool
	// Retry is true for an install_id retry within 5 minutes.
	Retry bool
	// Revoked are the agent's previous device-token ids (re-provision or
	// retry): the caller kicks them (4001) after commit.
	Revoked []string
}

func validInstallID(s string) bool {
	if len(s) < minInstallIDLen || len(s) > maxInstallIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Bind redeems a claim code for a device (API.md §3.3): the code is
// consumed by one conditional update, so of concurrent redeems exactly one
// wins. The agent is the claim's agent_id (re-minted if it exists, created
// otherwise), else device_id if usable and free, else a generated id. The
// same code with the same install_id within 5 minutes re-mints (revoking
// the token just issued) instead of CLAIM_CODE_USED.
//
// Errors: RATE_LIMITED (per IP), VALIDATION_FAILED, CLAIM_CODE_INVALID,
// CLAIM_CODE_EXPIRED, CLAIM_CODE_USED, AGENT_ID_TAKEN,
// DEVICE_LIMIT_REACHED. A failed bind leaves the code unused.
func (s *Service) Bind(ctx context.Context, req BindRequest) (*BindResult, error) {
	if key, ok := ipKey(req.RemoteIP); ok {
		if ok, d := s.bindLimit.allow(key, s.now()); !ok {
			return nil, rateLimited("bind", s.bindBurst, d)
		}
	}
	var v validator
	if !validInstallID(req.InstallID) {
		v.add("install_id", "pattern", "^[A-Za-z0-9_-]{16,64}$")
	}
	if req.DeviceID != "" && !ValidAgentID(req.DeviceID) {
		v.add("device_id", "pattern", "^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
	}
	if len(req.Hostname) > maxHostnameLength {
		v.add("hostname", "max", "64")
	}
	if !validPlatform(req.Platform) {
		v.add("platform", "pattern", "^[a-z0-9][a-z0-9_-]{0,31}$")
	}
	if req.FirmwareVersion != "" && !validSemver(req.FirmwareVersion) {
		v.add("firmware_version", "semver", "")
	}
	checkEWSPVersions(&v, "ewsp_versions", req.EWSPVersions)
	if err := v.err(); err != nil {
		return nil, err
	}
	code, err := ParseClaimCode(req.Code)
	if err != nil {
		return nil, err
	}
	var res *BindResult
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		res = &BindResult{}
		now := s.clock()
		claim, err := s.store.ConsumeClaimCode(ctx, code.Hash(), req.InstallID, now)
		switch {
		case errors.Is(err, ErrNotFound):
			return fail(ErrClaimCodeInvalid)
		case errors.Is(err, ErrExpired):
			return fail(ErrClaimCodeExpired)
		case errors.Is(err, ErrUsed):
			if claim.InstallID != req.InstallID || claim.BoundAgentID == "" || !now.Before(claim.UsedAt.Add(BindRetryWindow)) {
				return fail(ErrClaimCodeUsed)
			}
			a, err := s.store.Agent(ctx, claim.OwnerID, claim.BoundAgentID)
			if errors.Is(err, ErrNotFound) {
				return fail(ErrClaimCodeUsed)
			} else if err != nil {
				return storeErr("looking an agent up", err)
			}
			res.Retry = true
			return s.rebind(ctx, res, claim, a, req, now)
		case err != nil:
			return storeErr("consuming a claim code", err)
		}
		res.Claim = claim
		if claim.AgentID != "" {
			a, err := s.store.Agent(ctx, claim.OwnerID, claim.AgentID)
			switch {
			case err == nil:
				if err := s.rebind(ctx, res, claim, a, req, now); err != nil {
					return err
				}
				return s.setClaimAgent(ctx, res, claim, a.AgentID)
			case !errors.Is(err, ErrNotFound):
				return storeErr("looking an agent up", err)
			}
		}
		u, err := s.store.UserByID(ctx, claim.OwnerID)
		if err != nil {
			return userErr(err)
		}
		id := claim.AgentID
		if id == "" {
			if id, err = s.freeAgentID(ctx, claim.OwnerID, req.DeviceID); err != nil {
				return err
			}
		}
		name := claim.Name
		if name == "" {
			var nv validator
			if checkAgentName(&nv, "hostname", req.Hostname); req.Hostname != "" && nv.err() == nil {
				name = req.Hostname
			} else {
				name = id
			}
		}
		channel := claim.Channel
		if channel == "" {
			channel = DefaultChannel
		}
		a := Agent{
			OwnerID: claim.OwnerID, AgentID: id, Name: name, Platform: req.Platform, Channel: channel,
			FirmwareVersion: req.FirmwareVersion, EWSPVersions: slices.Clone(req.EWSPVersions),
			CreatedAt: now, UpdatedAt: now, BoundAt: now,
		}
		if err := s.insertAgent(ctx, a, s.AgentsLimit(u)); err != nil {
			return err
		}
		tok, credID, err := s.mintDeviceToken(ctx, &a, now)
		if err != nil {
			return err
		}
		res.Agent, res.DeviceToken, res.CredentialID, res.Created = a, tok, credID, true
		return s.setClaimAgent(ctx, res, claim, id)
	})
	if err != nil {
		return nil, err
	}
	if len(res.Revoked) > 0 {
		s.invalidate(ctx, res.Agent.OwnerID)
	}
	return res, nil
}

// rebind revokes an existing agent's device tokens, mints a new one and
// records what the device declared.
func (s *Service) rebind(ctx context.Context, res *BindResult, claim ClaimCode, a Agent, req BindRequest, now time.Time) error {
	revoked, err := s.store.RevokeCredentials(ctx, a.OwnerID, Selector{Kinds: []Kind{KindDevice}, AgentID: a.AgentID}, now)
	if err != nil {
		return storeErr("revoking a device token", err)
	}
	a.Platform = req.Platform
	if req.FirmwareVersion != "" {
		a.FirmwareVersion = req.FirmwareVersion
	}
	if req.EWSPVersions != nil {
		a.EWSPVersions = slices.Clone(req.EWSPVersions)
	}
	a.BoundAt = now
	tok, credID, err := s.mintDeviceToken(ctx, &a, now)
	if err != nil {
		return err
	}
	res.Agent, res.DeviceToken, res.CredentialID, res.Revoked, res.Claim = a, tok, credID, revoked, claim
	return nil
}

func (s *Service) setClaimAgent(ctx context.Context, res *BindResult, claim ClaimCode, agentID string) error {
	if err := s.store.SetClaimAgent(ctx, claim.ID, agentID); err != nil {
		return storeErr("recording a bind", err)
	}
	res.Claim.BoundAgentID = agentID
	return nil
}
