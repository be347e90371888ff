package console

import (
	"context"
	"net/netip"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// Use cases of API.md §3.2 (claim codes) and §3.3 (bind).

// CreateClaimCodeRequest is the body of POST /claim-codes (Idem).
type CreateClaimCodeRequest struct {
	// AgentID names an existing agent to re-provision, or the id of the
	// agent the bind creates; "" lets the bind choose.
	AgentID  string
	Name     string
	Platform string
	Channel  string
	TTLS     int // 0: 600; else 60-3600
	// Idempotency is the Idempotency-Key and the request's fingerprint.
	Idempotency Idempotency
}

// CreateClaimCode is POST /claim-codes (Auth C, Idem): the code (once),
// bind_url and the firmware provision command. AGENT_NOT_FOUND is never
// answered (an unknown agent_id names the agent to create);
// DEVICE_LIMIT_REACHED for a new agent beyond the limit,
// CLAIM_CODE_LIMIT_REACHED beyond 10 active codes, VALIDATION_FAILED,
// IDEMPOTENCY_KEY_REUSED. Audit claim.created. On a replay (Replayed) code
// and command are nil.
func (s *Service) CreateClaimCode(ctx context.Context, c Caller, req CreateClaimCodeRequest) (*CreatedClaimCode, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	s.Settings(ctx)
	res, replayed, err := idempotent(s, ctx, c, req.Idempotency, "creating a claim code",
		func(ctx context.Context) (*CreatedClaimCode, error) {
			ic, err := s.auth.CreateClaimCode(ctx, c.UserID, auth.ClaimRequest{AgentID: req.AgentID, Name: req.Name,
				Platform: req.Platform, Channel: req.Channel, TTL: time.Duration(req.TTLS) * time.Second})
			if err != nil {
				return nil, err
			}
			if err := s.audit(ctx, c, AuditClaimCreated, ic.Claim.ID); err != nil {
				return nil, err
			}
			base := s.apiURL(ctx)
			cmd := Secret("firmware provision --server " + base + " --claim " + ic.Code.Reveal())
			return &CreatedClaimCode{ClaimCode: claimOf(ic.Claim), Code: newSecret(ic.Code),
				BindURL: base + "/api/client/bind", Command: &cmd}, nil
		},
		func(r CreatedClaimCode) CreatedClaimCode {
			r.Code, r.Command = nil, nil
			return r
		})
	if err != nil {
		return nil, err
	}
	res.Replayed = replayed
	return res, nil
}

// ListClaimCodes is GET /claim-codes (Auth C): the caller's active codes
// (without the codes).
func (s *Service) ListClaimCodes(ctx context.Context, c Caller) (*ClaimCodeList, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	cs, err := s.auth.ListClaimCodes(ctx, c.UserID)
	if err != nil {
		return nil, s.wrap("listing claim codes", err)
	}
	out := &ClaimCodeList{Items: make([]ClaimCode, len(cs))}
	for i, cl := range cs {
		out.Items[i] = claimOf(cl)
	}
	return out, nil
}

// DeleteClaimCode is DELETE /claim-codes/{id} (Auth C):
// CLAIM_CODE_NOT_FOUND, also for another account's code.
func (s *Service) DeleteClaimCode(ctx context.Context, c Caller, claimID string) error {
	if err := requireRule(c, AuthC); err != nil {
		return err
	}
	return s.wrap("deleting a claim code", s.auth.DeleteClaimCode(ctx, c.UserID, claimID))
}

// BindRequest is the body of POST /api/client/bind.
type BindRequest struct {
	Code            string
	InstallID       string
	DeviceID        string // proposed agent id, optional
	Hostname        string // optional
	Platform        string
	FirmwareVersion string   // optional
	EWSPVersions    []string // optional, ⊆ {"1.0","2"}
	RemoteIP        netip.Addr
}

// Bind is POST /api/client/bind (the claim code is the credential): the
// provisioning answer with the agent's new device token. A claim for an
// existing agent (and an install_id retry) re-mints its wld_: the old one
// is revoked and its connection closes 4001. CLAIM_CODE_INVALID,
// CLAIM_CODE_EXPIRED, CLAIM_CODE_USED, AGENT_ID_TAKEN,
// DEVICE_LIMIT_REACHED, VALIDATION_FAILED, RATE_LIMITED. Audit claim.used
// and agent.created (new agent) or agent.token_rotated; events claim.used
// and agent.created or agent.updated.
func (s *Service) Bind(ctx context.Context, req BindRequest) (*Provisioning, error) {
	if err := s.CheckSetup(ctx); err != nil {
		return nil, err
	}
	s.Settings(ctx)
	var (
		prov *Provisioning
		o    outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		res, err := s.auth.Bind(ctx, auth.BindRequest{Code: req.Code, InstallID: req.InstallID, DeviceID: req.DeviceID,
			Hostname: req.Hostname, Platform: req.Platform, FirmwareVersion: req.FirmwareVersion,
			EWSPVersions: req.EWSPVersions, RemoteIP: req.RemoteIP})
		if err != nil {
			return err
		}
		owner, id := res.Agent.OwnerID, res.Agent.AgentID
		sys := AuditRecord{ActorKind: ActorSystem, Result: auditSuccess, RemoteIP: ipString(req.RemoteIP)}
		rec := sys
		rec.Action, rec.Target = AuditClaimUsed, res.Claim.ID
		if err := s.auditRow(ctx, rec); err != nil {
			return err
		}
		rec = sys
		rec.Action, rec.Target = AuditAgentRotated, id
		if res.Created {
			rec.Action = AuditAgentCreated
		}
		if err := s.auditRow(ctx, rec); err != nil {
			return err
		}
		if prov, err = s.provisioning(ctx, res.Agent, res.DeviceToken); err != nil {
			return err
		}
		a, err := s.agent(ctx, owner, id)
		if err != nil {
			return err
		}
		if len(res.Revoked) > 0 {
			s.rotated(&o, owner, id, res.Revoked, 0, res.Agent.TokenRotatedAt)
		}
		o.event(ownerEvent(EventClaimUsed, owner), map[string]string{"claim_id": res.Claim.ID, "agent_id": id})
		typ := EventAgentUpdated
		if res.Created {
			typ = EventAgentCreated
		}
		o.event(ownerEvent(typ, owner), a)
		return nil
	})
	if err != nil {
		return nil, s.wrap("binding", err)
	}
	s.send(ctx, &o)
	return prov, nil
}
