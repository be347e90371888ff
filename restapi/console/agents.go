package console

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// Use cases of API.md §3.2 (agents and presence).

// CreateAgentRequest is the body of POST /agents (Idem).
type CreateAgentRequest struct {
	AgentID  string // "" generates WL + 8 uppercase hex
	Name     string
	Platform string // "" none
	Channel  string // "" stable
	Targets  []TargetInput
	// Idempotency is the Idempotency-Key and the request's fingerprint.
	Idempotency Idempotency
}

// CreateAgent is POST /agents (Auth C, Idem): the agent and its device
// token (once), the relay URL and the provisioning bundle. AGENT_ID_TAKEN,
// DEVICE_LIMIT_REACHED (detail.limit), VALIDATION_FAILED (rule reserved
// for "presence"), IDEMPOTENCY_KEY_REUSED. Audit agent.created; event
// agent.created. A replay (Replayed) answers the stored result with the
// token fields nil.
func (s *Service) CreateAgent(ctx context.Context, c Caller, req CreateAgentRequest) (*CreatedAgent, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	s.Settings(ctx) // the agent limit auth applies
	var o outbox
	res, replayed, err := idempotent(s, ctx, c, req.Idempotency, "creating an agent",
		func(ctx context.Context) (*CreatedAgent, error) {
			o = outbox{}
			ia, err := s.auth.CreateAgent(ctx, c.UserID, auth.AgentSpec{AgentID: req.AgentID, Name: req.Name,
				Platform: req.Platform, Channel: req.Channel, Targets: targetsIn(req.Targets)})
			if err != nil {
				return nil, err
			}
			if err := s.audit(ctx, c, AuditAgentCreated, ia.Agent.AgentID); err != nil {
				return nil, err
			}
			prov, err := s.provisioning(ctx, ia.Agent, ia.DeviceToken)
			if err != nil {
				return nil, err
			}
			a := agentOf(AgentRow{Agent: ia.Agent}, nil)
			o.event(ownerEvent(EventAgentCreated, c.UserID), a)
			return &CreatedAgent{Agent: a, DeviceToken: newSecret(ia.DeviceToken), RelayURL: prov.RelayURL, Provisioning: *prov}, nil
		},
		func(r CreatedAgent) CreatedAgent {
			r.DeviceToken, r.Provisioning.DeviceToken = nil, nil
			return r
		})
	if err != nil {
		return nil, err
	}
	if replayed {
		res.Replayed = true
		return res, nil
	}
	s.send(ctx, &o)
	return res, nil
}

// provisioning builds the bind answer / provisioning bundle of an agent.
func (s *Service) provisioning(ctx context.Context, a auth.Agent, tok auth.Token) (*Provisioning, error) {
	keys := []OTAPublicKey{}
	if s.cfg.ReleaseKeys != nil {
		ks, err := s.cfg.ReleaseKeys.PublicKeys(ctx)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
	}
	base := s.apiURL(ctx)
	return &Provisioning{
		AgentID: a.AgentID, DeviceToken: newSecret(tok), Name: a.Name, Channel: a.Channel, APIURL: base,
		RelayURL: s.relayURL(ctx), OTA: ProvisioningOTA{CheckURL: base + "/api/v1/releases/check", PublicKeys: keys},
	}, nil
}

// AgentFilter is the query of GET /agents (and, with OwnerID, of GET
// /admin/agents).
type AgentFilter struct {
	OwnerID  string // admin listing only: "" every owner
	Online   *bool
	Platform string
	Channel  string
	Q        string    // substring of the id or name, ignoring case; ≤ 64
	Sort     AgentSort // "" agent_id
	Order    string    // "" or "asc", "desc"
	Limit    int       // 0: 50; 1-200
	Cursor   string
}

// ListAgents is GET /agents (Auth C): the caller's agents with presence,
// filters combined with AND, keyset pages; total counts the matches. A
// bad cursor (or one from another sort or order) is VALIDATION_FAILED.
func (s *Service) ListAgents(ctx context.Context, c Caller, f AgentFilter) (*AgentPage, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	f.OwnerID = c.UserID
	rows, pres, next, total, err := s.listAgents(ctx, f, cursorAgents)
	if err != nil {
		return nil, err
	}
	page := &AgentPage{Items: make([]Agent, len(rows)), NextCursor: next, Total: total}
	for i, r := range rows {
		page.Items[i] = agentOf(r, pres[i])
	}
	return page, nil
}

// ListAllAgents is GET /admin/agents (Auth A): every account's agents,
// optionally one owner's, with the filters of GET /agents.
func (s *Service) ListAllAgents(ctx context.Context, c Caller, f AgentFilter) (*AdminAgentPage, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	if f.OwnerID != "" && !validUserID(f.OwnerID) {
		return nil, invalid(FieldError{Field: "owner_id", Rule: "user_id"})
	}
	rows, pres, next, total, err := s.listAgents(ctx, f, cursorAdminAgents)
	if err != nil {
		return nil, err
	}
	page := &AdminAgentPage{Items: make([]AdminAgent, len(rows)), NextCursor: next, Total: total}
	for i, r := range rows {
		page.Items[i] = AdminAgent{Agent: agentOf(r, pres[i]), OwnerID: r.OwnerID}
	}
	return page, nil
}

func validPlatform(p string) bool {
	if len(p) == 0 || len(p) > auth.MaxPlatformLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

func validChannel(ch string) bool { return ch == "stable" || ch == "beta" || ch == "dev" }

// maxQueryLen bounds q filters (characters).
const maxQueryLen = 64

func (s *Service) listAgents(ctx context.Context, f AgentFilter, list string) ([]AgentRow, []*relay.AgentPresence, *string, int, error) {
	var v validator
	limit := pageLimit(&v, f.Limit)
	if f.Platform != "" && !validPlatform(f.Platform) {
		v.add("platform", "platform", "")
	}
	if f.Channel != "" && !validChannel(f.Channel) {
		v.add("channel", "oneof", "stable beta dev")
	}
	if !utf8.ValidString(f.Q) || utf8.RuneCountInString(f.Q) > maxQueryLen {
		v.add("q", "max", itoa(maxQueryLen))
	}
	if f.Sort == "" {
		f.Sort = SortAgentID
	}
	switch f.Sort {
	case SortAgentID, SortName, SortLastSeen, SortCreatedAt:
	default:
		v.add("sort", "oneof", "agent_id name last_seen created_at")
	}
	desc := false
	switch f.Order {
	case "", "asc":
	case "desc":
		desc = true
	default:
		v.add("order", "oneof", "asc desc")
	}
	cur, err := decodeCursor(f.Cursor, list, string(f.Sort), desc)
	if err != nil {
		v.errs = append(v.errs, cursorFieldError)
	}
	if err := v.err(); err != nil {
		return nil, nil, nil, 0, err
	}
	q := AgentQuery{OwnerID: f.OwnerID, Platform: f.Platform, Channel: f.Channel, Q: f.Q, Sort: f.Sort, Desc: desc, Limit: limit + 1}
	if cur != nil {
		q.After = &AgentKey{Str: cur.Str, Num: cur.Num, AgentID: cur.ID, OwnerID: cur.Owner}
	}
	if f.Online != nil {
		refs, err := s.onlineRefs(ctx, f.OwnerID)
		if err != nil {
			return nil, nil, nil, 0, s.wrap("listing online agents", err)
		}
		q.Refs, q.RefsMode = refs, RefsOnly
		if !*f.Online {
			q.RefsMode = RefsExcept
		}
	}
	rows, total, err := s.store.ListAgents(ctx, q)
	if err != nil {
		return nil, nil, nil, 0, s.wrap("listing agents", err)
	}
	var next *string
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		c := cursor{List: list, Sort: string(f.Sort), Desc: desc, ID: last.AgentID, Owner: last.OwnerID}
		switch f.Sort {
		case SortAgentID:
			c.Str = last.AgentID
		case SortName:
			c.Str = last.Name
		case SortLastSeen:
			c.Num = msOf(last.LastSeen)
		case SortCreatedAt:
			c.Num = msOf(last.CreatedAt)
		}
		n := encodeCursor(c)
		next = &n
	}
	return rows, s.presenceOf(ctx, rows), next, total, nil
}

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// onlineRefs lists the online agents of owner ("" every owner: each
// account owning agents is asked, so the admin filter costs one presence
// lookup per such account).
func (s *Service) onlineRefs(ctx context.Context, owner string) ([]AgentRef, error) {
	r := s.rly()
	refs := []AgentRef{}
	if r == nil {
		return refs, nil
	}
	add := func(owner string) {
		for _, p := range r.Presence(ctx, owner) {
			refs = append(refs, AgentRef{OwnerID: owner, AgentID: p.AgentID})
		}
	}
	if owner != "" {
		add(owner)
		return refs, nil
	}
	after := ""
	for {
		owners, err := s.store.AgentOwners(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, o := range owners {
			add(o)
		}
		if len(owners) < 1000 {
			return refs, nil
		}
		after = owners[len(owners)-1]
	}
}

// presenceOf returns the presence of each row (nil: offline).
func (s *Service) presenceOf(ctx context.Context, rows []AgentRow) []*relay.AgentPresence {
	out := make([]*relay.AgentPresence, len(rows))
	r := s.rly()
	if r == nil {
		return out
	}
	for i, row := range rows {
		if p, ok := r.AgentPresence(ctx, row.OwnerID, row.AgentID); ok {
			out[i] = &p
		}
	}
	return out
}

// AgentPresenceList is GET /agents/presence (Auth C): every agent of the
// account (at most 10 000) with online and last_seen.
func (s *Service) AgentPresenceList(ctx context.Context, c Caller) (*PresenceList, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	rows, _, err := s.store.ListAgents(ctx, AgentQuery{OwnerID: c.UserID, Sort: SortAgentID, Limit: MaxPresenceList, SkipTotal: true})
	if err != nil {
		return nil, s.wrap("listing agents", err)
	}
	online := map[string]bool{}
	if r := s.rly(); r != nil {
		for _, p := range r.Presence(ctx, c.UserID) {
			online[p.AgentID] = true
		}
	}
	out := &PresenceList{Items: make([]AgentPresence, len(rows)), TS: s.now()}
	for i, r := range rows {
		out.Items[i] = AgentPresence{AgentID: r.AgentID, Online: online[r.AgentID], LastSeen: timePtr(r.LastSeen)}
	}
	return out, nil
}

// agentRow reads one of owner's agents with what the console keeps beside
// it; AGENT_NOT_FOUND.
func (s *Service) agentRow(ctx context.Context, owner, agentID string) (AgentRow, error) {
	if !auth.ValidAgentID(agentID) {
		return AgentRow{}, fail(auth.ErrAgentNotFound)
	}
	rows, _, err := s.store.ListAgents(ctx, AgentQuery{OwnerID: owner, Refs: []AgentRef{{owner, agentID}},
		RefsMode: RefsOnly, Limit: 1, SkipTotal: true})
	if err != nil {
		return AgentRow{}, err
	}
	if len(rows) == 0 {
		return AgentRow{}, fail(auth.ErrAgentNotFound)
	}
	return rows[0], nil
}

// agent returns the Agent object of one of owner's agents.
func (s *Service) agent(ctx context.Context, owner, agentID string) (Agent, error) {
	row, err := s.agentRow(ctx, owner, agentID)
	if err != nil {
		return Agent{}, err
	}
	return agentOf(row, s.presenceOf(ctx, []AgentRow{row})[0]), nil
}

// GetAgent is GET /agents/{id} (Auth C): AGENT_NOT_FOUND for an unknown id
// and for another account's agent alike.
func (s *Service) GetAgent(ctx context.Context, c Caller, agentID string) (*Agent, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	a, err := s.agent(ctx, c.UserID, agentID)
	if err != nil {
		return nil, s.wrap("reading an agent", err)
	}
	return &a, nil
}

// UpdateAgentRequest is the body of PATCH /agents/{id}: nil fields are
// unchanged; Targets replaces the list.
type UpdateAgentRequest struct {
	Name     *string
	Platform *string
	Channel  *string
	Targets  *[]TargetInput
}

// UpdateAgent is PATCH /agents/{id} (Auth C). AGENT_NOT_FOUND,
// VALIDATION_FAILED. Event agent.updated.
func (s *Service) UpdateAgent(ctx context.Context, c Caller, agentID string, req UpdateAgentRequest) (*Agent, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	p := auth.AgentPatch{Name: req.Name, Platform: req.Platform, Channel: req.Channel}
	if req.Targets != nil {
		ts := targetsIn(*req.Targets)
		if ts == nil {
			ts = []auth.Target{}
		}
		p.Targets = &ts
	}
	var (
		a Agent
		o outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		if _, err := s.auth.UpdateAgent(ctx, c.UserID, agentID, p); err != nil {
			return err
		}
		var err error
		if a, err = s.agent(ctx, c.UserID, agentID); err != nil {
			return err
		}
		o.event(ownerEvent(EventAgentUpdated, c.UserID), a)
		return nil
	})
	if err != nil {
		return nil, s.wrap("updating an agent", err)
	}
	s.send(ctx, &o)
	return &a, nil
}

// DeleteAgent is DELETE /agents/{id} (Auth C): the agent, its device token
// and targets go; its relay connection closes 4004 (queued frames for it
// are dropped). AGENT_NOT_FOUND. Audit agent.deleted; event agent.deleted.
func (s *Service) DeleteAgent(ctx context.Context, c Caller, agentID string) error {
	if err := requireRule(c, AuthC); err != nil {
		return err
	}
	var o outbox
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		if _, err := s.auth.DeleteAgent(ctx, c.UserID, agentID); err != nil {
			return err
		}
		if err := s.audit(ctx, c, AuditAgentDeleted, agentID); err != nil {
			return err
		}
		o.kick(relay.Target{Account: c.UserID, AgentID: agentID}, relay.CloseAgentDeleted, time.Time{})
		o.event(ownerEvent(EventAgentDeleted, c.UserID), map[string]string{"agent_id": agentID})
		return nil
	})
	if err != nil {
		return s.wrap("deleting an agent", err)
	}
	s.send(ctx, &o)
	return nil
}

// RotateAgentTokenRequest is the (optional) body of POST
// /agents/{id}/rotate-token.
type RotateAgentTokenRequest struct {
	GraceS int // 0-600: the old token stays valid that long
}

// RotateAgentToken is POST /agents/{id}/rotate-token (Auth C): a new wld_
// (once) with the provisioning bundle; the old one is valid grace_s more,
// then the agent's connection holding it closes 4001 (the kick is
// scheduled on the relay for that instant). AGENT_NOT_FOUND,
// VALIDATION_FAILED. Audit agent.token_rotated; event agent.token_rotated.
func (s *Service) RotateAgentToken(ctx context.Context, c Caller, agentID string, req RotateAgentTokenRequest) (*AgentTokenRotation, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	if req.GraceS < 0 || req.GraceS > int(auth.MaxRotateGrace/time.Second) {
		return nil, invalid(FieldError{Field: "grace_s", Rule: "range", Param: "0-600"})
	}
	grace := time.Duration(req.GraceS) * time.Second
	var (
		rot  *auth.DeviceRotation
		prov *Provisioning
		o    outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		var err error
		if rot, err = s.auth.RotateDeviceToken(ctx, c.UserID, agentID, grace); err != nil {
			return err
		}
		if err := s.audit(ctx, c, AuditAgentRotated, agentID); err != nil {
			return err
		}
		if prov, err = s.provisioning(ctx, rot.Agent, rot.DeviceToken); err != nil {
			return err
		}
		s.rotated(&o, c.UserID, agentID, rot.Revoked, grace, rot.RotatedAt)
		return nil
	})
	if err != nil {
		return nil, s.wrap("rotating a device token", err)
	}
	s.send(ctx, &o)
	return &AgentTokenRotation{DeviceToken: newSecret(rot.DeviceToken), TokenRotatedAt: rot.RotatedAt.UTC(),
		OldTokenValidUntil: rot.OldValidUntil.UTC(), Provisioning: *prov}, nil
}

// rotated queues the kick of an agent's old device tokens (4001, after
// grace on the relay's own clock, which has no dev offset) and
// agent.token_rotated.
func (s *Service) rotated(o *outbox, owner, agentID string, old []string, grace time.Duration, at time.Time) {
	if len(old) > 0 {
		var when time.Time
		if grace > 0 {
			when = time.Now().Add(grace)
		}
		o.kick(relay.Target{Account: owner, AgentID: agentID, CredentialIDs: old}, relay.CloseTokenRevoked, when)
	}
	o.event(ownerEvent(EventAgentTokenRotated, owner), map[string]any{"agent_id": agentID, "token_rotated_at": at.UTC()})
}
