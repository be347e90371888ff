package relay

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// Field limits of the auth frame (API.md §4.2).
const (
	maxNameLen     = 64
	maxVersionLen  = 32
	maxPlatformLen = 32
	maxFirmwareLen = 32
	maxEWSPList    = 8
)

// knownEWSP are the ewsp_versions values kept (API.md §4.2: ⊆ ["1.0","2"]);
// others are dropped, not refused, so a newer agent still connects.
var knownEWSP = []string{"1.0", "2"}

func randInt63n(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n) // jitter only: not security relevant
}

// handle processes one text frame.
func (c *conn) handle(b []byte) {
	var e envelope
	err := parseEnvelope(b, &e)
	if !c.authed.Load() {
		c.handleAuth(b, &e, err)
		return
	}
	if err != nil {
		c.sendError(CodeInvalidMessage, "frame is not a JSON object with a string type", nil)
		return
	}
	switch string(e.typ) {
	case typeRelay:
		c.handleRelay(&e)
	case typePing:
		if e.badField == "ts" || len(e.ts) > maxPingTSLen {
			c.sendError(CodeInvalidMessage, "ts must be a string of at most 64 characters", nil)
			return
		}
		c.sendFrame(func(out []byte) []byte { return appendPong(out, e.ts, e.hasTS) })
	case typePong:
		// A life sign, already counted.
	case typeAuth:
		c.sendError(CodeInvalidMessage, "already authenticated", nil)
	default:
		c.sendError(CodeUnknownType, "unknown frame type", e.mid)
	}
}

// handleAuth handles the first frame (API.md §4.2).
func (c *conn) handleAuth(b []byte, e *envelope, perr error) {
	c.mu.Lock()
	late := c.gotFirst
	c.gotFirst = true
	t := c.authTimer
	c.authTimer = nil
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	if late {
		return // the auth window closed; the close is under way
	}
	if perr != nil {
		c.failAuth(CodeInvalidMessage, "first frame is not a JSON object with a string type", 0)
		return
	}
	if string(e.typ) != typeAuth {
		c.failAuth(CodeAuthRequired, "the first frame must be auth", 0)
		return
	}
	var af authFrame
	if err := json.Unmarshal(b, &af); err != nil {
		c.failAuth(CodeInvalidMessage, "malformed auth frame", 0)
		return
	}
	cred, code, msg := c.credentials(&af)
	if code != "" {
		c.failAuth(code, msg, 0)
		return
	}
	ctx, cancel := context.WithTimeout(c.s.ctx, authCallTimeout)
	p, err := c.s.auth.Authenticate(ctx, cred)
	cancel()
	if err != nil {
		var ae *AuthError
		switch {
		case errors.As(err, &ae):
			c.failAuth(ae.Code, ae.Message, ae.RetryAfter)
		case c.s.ctx.Err() != nil:
			c.closeWith(CloseGoingAway, CloseName(CloseGoingAway), "")
		default:
			c.s.log.Warn("authenticator failed", "conn", c.id, "err", err)
			c.failAuth(CodeServiceUnavailable, "authentication unavailable, retry later", 0)
		}
		return
	}
	if p == nil || p.Account == "" {
		c.s.log.Error("authenticator returned no principal", "conn", c.id)
		c.failAuth(CodeServiceUnavailable, "authentication unavailable, retry later", 0)
		return
	}
	wantKind := KindClient
	if cred.ClientType != "client" {
		wantKind = KindAgent
	}
	switch {
	case p.Kind != wantKind:
		c.failAuth(ErrTokenScopeMismatch.Code, ErrTokenScopeMismatch.Message, 0)
		return
	case p.Kind == KindAgent && p.AgentID != cred.AgentID:
		c.failAuth(ErrAgentMismatch.Code, ErrAgentMismatch.Message, 0)
		return
	}
	now := c.s.clock.Now()
	if p.Kind == KindClient && !p.ExpiresAt.IsZero() && !p.ExpiresAt.After(now) {
		c.failAuth(ErrTokenExpired.Code, ErrTokenExpired.Message, 0)
		return
	}
	c.authenticated(p, &af, now)
}

// credentials validates the auth frame's fields (API.md §4.2); a non-empty
// code refuses it.
func (c *conn) credentials(af *authFrame) (cred Credentials, code, msg string) {
	if (af.APIToken == nil) == (af.SessionToken == nil) {
		return cred, CodeInvalidMessage, "exactly one of api_token and session_token is required"
	}
	switch af.ClientType {
	case "client", "device", "firmware":
	default:
		return cred, CodeInvalidMessage, `client_type must be "client", "device" or "firmware"`
	}
	cred.ClientType = af.ClientType
	if af.APIToken != nil {
		cred.Token, cred.TokenField = Secret(*af.APIToken), "api_token"
	} else {
		cred.Token, cred.TokenField = Secret(*af.SessionToken), "session_token"
	}
	if cred.Token == "" {
		return cred, CodeInvalidMessage, cred.TokenField + " is empty"
	}
	if af.ClientType != "client" {
		if af.SessionToken != nil {
			return cred, CodeTokenScopeMismatch, "session_token is for clients only"
		}
		if !validAgentID(af.AgentID) {
			return cred, CodeInvalidMessage, "agent_id: 1–32 of [A-Za-z0-9._-] required for devices"
		}
		cred.AgentID = af.AgentID
	}
	for _, f := range []struct {
		v   string
		max int
		n   string
	}{
		{af.Name, maxNameLen, "name"},
		{af.Version, maxVersionLen, "version"},
		{af.Platform, maxPlatformLen, "platform"},
		{af.FirmwareVersion, maxFirmwareLen, "firmware_version"},
	} {
		if utf8.RuneCountInString(f.v) > f.max {
			return cred, CodeInvalidMessage, f.n + " is too long"
		}
	}
	if len(af.EWSPVersions) > maxEWSPList {
		return cred, CodeInvalidMessage, "ewsp_versions is too long"
	}
	cred.Name, cred.Version = af.Name, af.Version
	cred.Platform, cred.FirmwareVersion = af.Platform, af.FirmwareVersion
	for _, v := range af.EWSPVersions {
		if slices.Contains(knownEWSP, v) && !slices.Contains(cred.EWSPVersions, v) {
			cred.EWSPVersions = append(cred.EWSPVersions, v)
		}
	}
	cred.RemoteIP = c.ip
	cred.Node = c.s.node
	return cred, "", ""
}

// failAuth answers a failed auth_response and closes 1008 (1011 for
// SERVICE_UNAVAILABLE).
func (c *conn) failAuth(code, msg string, retryAfter time.Duration) {
	c.s.stats.authFailure(code)
	if code != CodeServiceUnavailable && c.s.ipFails != nil {
		c.s.ipFails.fail(c.ip, c.s.clock.Now())
	}
	resp := authFailed{Type: typeAuthResponse, Status: "failed", Error: code, Message: msg}
	if retryAfter > 0 {
		resp.RetryAfterS = max(1, int((retryAfter+time.Second-1)/time.Second))
	}
	b, _ := json.Marshal(resp)
	c.enqueue(&b, false)
	if code == CodeServiceUnavailable {
		c.closeWith(CloseInternalError, CloseName(CloseInternalError), "")
	} else {
		c.closeWith(ClosePolicyViolation, code, "")
	}
	c.s.log.Debug("authentication failed", "conn", c.id, "code", code)
}

// authenticated admits the principal, answers auth_response and registers
// the connection (API.md §4.2).
func (c *conn) authenticated(p *Principal, af *authFrame, now time.Time) {
	s := c.s
	kept := *p
	kept.SessionToken = "" // sent once in auth_response, not kept
	c.p = &kept
	c.kind = p.Kind
	c.account = p.Account
	c.agentID = p.AgentID
	c.wantPresence = af.Presence == nil || *af.Presence
	if p.Kind == KindAgent {
		c.wantPresence = false
		for _, v := range af.EWSPVersions {
			if slices.Contains(knownEWSP, v) && !slices.Contains(c.ewsp, v) {
				c.ewsp = append(c.ewsp, v)
			}
		}
		c.firmware, c.platform = af.FirmwareVersion, af.Platform
	}
	if !s.joinAccount(c, p) {
		c.failAuth(CodeConnectionLimit, "too many client connections for this account", retryAfterLimit)
		return
	}

	// Per-connection limits.
	rps, burst := s.cfg.AgentRate, s.cfg.AgentBurst
	c.maxRequests = -1
	if p.Kind == KindClient {
		rps, burst = s.cfg.ClientRate, s.cfg.ClientBurst
		c.maxRequests = s.cfg.ClientMaxRequests
		c.offlineTTL = s.cfg.OfflineQueueTTL
		if p.Limits.OfflineQueueTTL != 0 {
			c.offlineTTL = min(p.Limits.OfflineQueueTTL, MaxOfflineQueueTTL)
		}
	}
	if p.MaxRequests != 0 {
		c.maxRequests = p.MaxRequests
	}
	if p.Limits.RatePerS != 0 {
		rps = p.Limits.RatePerS
	}
	if p.Limits.Burst != 0 {
		burst = p.Limits.Burst
	}
	if rps > 0 {
		c.lim = rate.NewLimiter(rate.Limit(rps), burst)
	}

	resp := authOK{
		Type:          typeAuthResponse,
		Status:        "authenticated",
		Conn:          c.id,
		Node:          s.node,
		HeartbeatS:    int(s.cfg.Heartbeat / time.Second),
		MaxFrameBytes: s.cfg.MaxFrameBytes,
		ServerTime:    jsonTime(now),
		Protocol:      1,
	}
	if c.offlineTTL > 0 {
		resp.OfflineQueueTTLS = int(c.offlineTTL / time.Second)
	}
	if p.Kind == KindClient {
		if p.SessionToken != "" {
			tok := string(p.SessionToken)
			resp.SessionToken = &tok
		}
		if !p.ExpiresAt.IsZero() {
			in := int64(p.ExpiresAt.Sub(now) / time.Second)
			resp.ExpiresIn = &in
		}
		resp.MaxRequests = max(c.maxRequests, 0)
	} else {
		resp.AgentID = p.AgentID
		resp.OfflineQueueTTLS = int(max(s.cfg.OfflineQueueTTL, 0) / time.Second)
	}
	b, _ := json.Marshal(resp)

	c.mu.Lock()
	if c.dead || c.closeState != closeOpen {
		c.mu.Unlock()
		s.leaveAccount(c)
		return
	}
	// auth_response goes first in the queue, before authed is visible to
	// anyone who could queue something else (device_status fan-out checks
	// authed). The writer is held until the connection is registered, so
	// the peer reads auth_response only once it is reachable.
	c.hold = true
	c.q = append(c.q, qframe{&b, false})
	c.qFrames++
	c.qBytes += len(b)
	s.stats.queued.Add(1)
	c.authed.Store(true)
	c.hbTimer = s.clock.AfterFunc(s.cfg.Heartbeat, c.heartbeat)
	if p.Kind == KindClient && !p.ExpiresAt.IsZero() {
		c.expTimer = s.clock.AfterFunc(p.ExpiresAt.Sub(now), c.expired)
	}
	c.mu.Unlock()
	defer c.release()
	s.stats.authOK(p.Kind)
	s.log.Debug("authenticated", "conn", c.id, "account", p.Account, "kind", string(p.Kind),
		"agent_id", p.AgentID, "credential_ids", p.CredentialIDs, "name", af.Name, "version", af.Version)

	switch p.Kind {
	case KindAgent:
		s.registerAgent(c, now)
	case KindClient:
		if c.wantPresence {
			s.sendSnapshot(c)
		}
	}
}
