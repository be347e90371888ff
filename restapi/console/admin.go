package console

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// Use cases of API.md §3.10 (admin).

// AdminStats answers GET /admin/stats.
type AdminStats struct {
	Users          StatsUsers  `json:"users"`
	Agents         StatsAgents `json:"agents"`
	Relay          StatsRelay  `json:"relay"`
	SessionsActive int         `json:"sessions_active"`
	OTA            StatsOTA    `json:"ota"`
	MCP            StatsMCP    `json:"mcp"`
	Server         StatsServer `json:"server"`
}

// StatsUsers counts users.
type StatsUsers struct {
	Total    int `json:"total"`
	Admins   int `json:"admins"`
	Disabled int `json:"disabled"`
	Locked   int `json:"locked"`
}

// StatsAgents counts agents; Online is the relay's count of agents
// connected to this node (the whole cluster on a single node).
type StatsAgents struct {
	Total      int            `json:"total"`
	Online     int            `json:"online"`
	ByPlatform map[string]int `json:"by_platform"`
}

// StatsRelay are the relay counters (Scope node: this node's).
type StatsRelay struct {
	Scope         string           `json:"scope"` // cluster | node
	Nodes         int              `json:"nodes"`
	Connections   StatsConnections `json:"connections"`
	FramesRelayed int64            `json:"frames_relayed"`
	BytesRelayed  int64            `json:"bytes_relayed"`
	FramesQueued  int64            `json:"frames_queued"`
	QueueDepth    int64            `json:"queue_depth"`
	Drops         StatsDrops       `json:"drops"`
	AuthFailures  int64            `json:"auth_failures"`
}

// StatsConnections counts authenticated relay connections.
type StatsConnections struct {
	Clients int `json:"clients"`
	Agents  int `json:"agents"`
}

// StatsDrops counts dropped frames by reason.
type StatsDrops struct {
	Offline      int64 `json:"offline"`
	Expired      int64 `json:"expired"`
	RateLimited  int64 `json:"rate_limited"`
	QueueFull    int64 `json:"queue_full"`
	SlowConsumer int64 `json:"slow_consumer"`
	UnknownConn  int64 `json:"unknown_conn"`
}

// StatsOTA is filled by the OTA issue (zeros until then).
type StatsOTA struct {
	Releases       int          `json:"releases"`
	ActiveRollouts int          `json:"active_rollouts"`
	HaltedRollouts int          `json:"halted_rollouts"`
	Reports24h     StatsReports `json:"reports_24h"`
}

// StatsReports counts OTA reports.
type StatsReports struct {
	Success int `json:"success"`
	Failure int `json:"failure"`
}

// StatsMCP counts MCP tokens and calls (calls: the MCP issue).
type StatsMCP struct {
	TokensActive int `json:"tokens_active"`
	Calls24h     int `json:"calls_24h"`
}

// StatsServer describes the server.
type StatsServer struct {
	Version   string    `json:"version"`
	UptimeS   int64     `json:"uptime_s"`
	StartedAt time.Time `json:"started_at"`
	DBEngine  string    `json:"db_engine"`
	Broker    string    `json:"broker"` // inproc | nats
}

// AdminStats is GET /admin/stats (Auth: C of an admin): the store's counts
// and this node's relay counters.
func (s *Service) AdminStats(ctx context.Context, c Caller) (*AdminStats, error) {
	if err := requireRule(c, AuthCAdmin); err != nil {
		return nil, err
	}
	now := s.now()
	n, err := s.store.Counts(ctx, now)
	if err != nil {
		return nil, s.wrap("counting", err)
	}
	by := n.AgentsByPlatform
	if by == nil {
		by = map[string]int{}
	}
	out := &AdminStats{
		Users:          StatsUsers{Total: n.Users, Admins: n.Admins, Disabled: n.DisabledUsers, Locked: n.LockedUsers},
		Agents:         StatsAgents{Total: n.Agents, ByPlatform: by},
		SessionsActive: n.SessionsActive,
		MCP:            StatsMCP{TokensActive: n.MCPTokensActive},
		Relay:          StatsRelay{Scope: "node", Nodes: 1},
		Server: StatsServer{Version: s.version.Version, UptimeS: int64(now.Sub(s.cfg.StartedAt) / time.Second),
			StartedAt: s.cfg.StartedAt.UTC(), DBEngine: s.store.Engine(), Broker: "inproc"},
	}
	if b := s.cfg.Broker; b != nil {
		out.Server.Broker = b.Kind()
		out.Relay.Nodes = max(b.Nodes(), 1)
	}
	if r := s.rly(); r != nil {
		st := r.Stats()
		out.Agents.Online = int(st.Agents)
		out.Relay.Connections = StatsConnections{Clients: int(st.Clients), Agents: int(st.Agents)}
		out.Relay.FramesRelayed = int64(st.FramesIn)
		out.Relay.BytesRelayed = int64(st.BytesIn)
		out.Relay.FramesQueued = st.OfflineQueueFrames
		out.Relay.QueueDepth = st.SendQueueFrames
		out.Relay.Drops = StatsDrops{
			Offline: int64(st.Drops["offline"]), Expired: int64(st.Drops["expired"]),
			RateLimited: int64(st.Drops["rate_limited"]), QueueFull: int64(st.Drops["queue_full"]),
			SlowConsumer: int64(st.Drops["slow_consumer"]), UnknownConn: int64(st.Drops["unknown_conn"]),
		}
		for _, v := range st.AuthFailures {
			out.Relay.AuthFailures += int64(v)
		}
	}
	return out, nil
}

// ListUsersRequest is GET /admin/users's query.
type ListUsersRequest struct {
	Q        string    // substring of username or email, ignoring case; ≤ 64
	Role     auth.Role // "" any
	Disabled *bool
	Limit    int // 0: 50; 1-200
	Cursor   string
}

// ListUsers is GET /admin/users (Auth A): users in creation order with
// locked_until, keyset pages.
func (s *Service) ListUsers(ctx context.Context, c Caller, req ListUsersRequest) (*AdminUserPage, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	var v validator
	limit := pageLimit(&v, req.Limit)
	if !utf8.ValidString(req.Q) || utf8.RuneCountInString(req.Q) > maxQueryLen {
		v.add("q", "max", itoa(maxQueryLen))
	}
	if req.Role != "" && req.Role != auth.RoleAdmin && req.Role != auth.RoleUser {
		v.add("role", "oneof", "admin user")
	}
	cur, err := decodeCursor(req.Cursor, cursorUsers, "", false)
	if err != nil {
		v.errs = append(v.errs, cursorFieldError)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	q := UserQuery{Q: req.Q, Role: req.Role, Disabled: req.Disabled, Limit: limit + 1}
	if cur != nil {
		q.After = cur.ID
	}
	rows, total, err := s.store.ListUsers(ctx, q)
	if err != nil {
		return nil, s.wrap("listing users", err)
	}
	page := &AdminUserPage{Items: make([]AdminUser, 0, min(len(rows), limit)), Total: total}
	if len(rows) > limit {
		rows = rows[:limit]
		next := encodeCursor(cursor{List: cursorUsers, ID: rows[limit-1].ID})
		page.NextCursor = &next
	}
	for _, r := range rows {
		page.Items = append(page.Items, s.adminUserOf(r.User, r.AgentsCount))
	}
	return page, nil
}

// CreateUserRequest is the body of POST /admin/users (Idem).
type CreateUserRequest struct {
	Username    string
	Password    string
	Email       string
	Role        auth.Role // "" user
	AgentsLimit *int      // nil: the server setting; 0 unlimited
	Idempotency Idempotency
}

// CreatedUser answers POST /admin/users.
type CreatedUser struct {
	AdminUser
	// Replayed: see CreatedAgent (a created user carries no secret).
	Replayed bool `json:"-"`
}

// CreateUser is POST /admin/users (Auth A, Idem): the user (its wl_ is
// minted at its first login). USERNAME_TAKEN, PASSWORD_TOO_WEAK,
// VALIDATION_FAILED, IDEMPOTENCY_KEY_REUSED. Audit user.created.
func (s *Service) CreateUser(ctx context.Context, c Caller, req CreateUserRequest) (*CreatedUser, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	if req.AgentsLimit != nil && *req.AgentsLimit > MaxAgentsPerAccount {
		return nil, invalid(FieldError{Field: "agents_limit", Rule: "max", Param: itoa(MaxAgentsPerAccount)})
	}
	res, replayed, err := idempotent(s, ctx, c, req.Idempotency, "creating a user",
		func(ctx context.Context) (*CreatedUser, error) {
			u, err := s.auth.CreateUser(ctx, auth.NewAccount{Username: req.Username, Password: req.Password,
				Email: req.Email, Role: req.Role, AgentsLimit: req.AgentsLimit, RemoteIP: c.RemoteIP})
			if err != nil {
				return nil, err
			}
			if err := s.audit(ctx, c, AuditUserCreated, u.ID); err != nil {
				return nil, err
			}
			return &CreatedUser{AdminUser: s.adminUserOf(u, 0)}, nil
		},
		func(u CreatedUser) CreatedUser { u.APIToken = nil; return u })
	if err != nil {
		return nil, err
	}
	res.Replayed = replayed
	return res, nil
}

// GetUser is GET /admin/users/{id} (Auth A). USER_NOT_FOUND.
func (s *Service) GetUser(ctx context.Context, c Caller, userID string) (*AdminUser, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	au, err := s.adminUser(ctx, userID)
	if err != nil {
		return nil, s.wrap("reading a user", err)
	}
	return au, nil
}

func (s *Service) adminUser(ctx context.Context, userID string) (*AdminUser, error) {
	u, err := s.auth.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	n, err := s.auth.CountAgents(ctx, userID)
	if err != nil {
		return nil, err
	}
	au := s.adminUserOf(u, n)
	return &au, nil
}

// UpdateUserRequest is the body of PATCH /admin/users/{id}: nil fields are
// unchanged.
type UpdateUserRequest struct {
	Role     *auth.Role
	Disabled *bool
	// Email: "" clears it (JSON null).
	Email *string
	// AgentsLimit sets the per-user limit (0 unlimited); ResetAgentsLimit
	// returns to the server setting (JSON null).
	AgentsLimit      *int
	ResetAgentsLimit bool
}

// UpdateUser is PATCH /admin/users/{id} (Auth A). Disabling revokes every
// credential of the user, agents' included: all its relay connections
// close 4005. USER_NOT_FOUND, LAST_ADMIN (demoting or disabling the last
// enabled admin), VALIDATION_FAILED. Audit user.updated; event
// account.updated (to the user).
func (s *Service) UpdateUser(ctx context.Context, c Caller, userID string, req UpdateUserRequest) (*AdminUser, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	if req.AgentsLimit != nil && *req.AgentsLimit > MaxAgentsPerAccount {
		return nil, invalid(FieldError{Field: "agents_limit", Rule: "max", Param: itoa(MaxAgentsPerAccount)})
	}
	var (
		au *AdminUser
		o  outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		if _, _, err := s.auth.UpdateUser(ctx, userID, auth.UserUpdate{Role: req.Role, Disabled: req.Disabled,
			Email: req.Email, AgentsLimit: req.AgentsLimit, ResetAgentsLimit: req.ResetAgentsLimit}); err != nil {
			return err
		}
		if err := s.audit(ctx, c, AuditUserUpdated, userID); err != nil {
			return err
		}
		var err error
		if au, err = s.adminUser(ctx, userID); err != nil {
			return err
		}
		if req.Disabled != nil && *req.Disabled {
			o.kick(relay.Target{Account: userID}, relay.CloseAccountDisabled, time.Time{})
		}
		o.event(selfEvent(EventAccountUpdated, userID), au.User)
		return nil
	})
	if err != nil {
		return nil, s.wrap("updating a user", err)
	}
	s.send(ctx, &o)
	return au, nil
}

// UnlockUser is POST /admin/users/{id}/unlock (Auth A): the lockout is
// lifted. USER_NOT_FOUND. Audit user.updated.
func (s *Service) UnlockUser(ctx context.Context, c Caller, userID string) (*AdminUser, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	var au *AdminUser
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.auth.Unlock(ctx, userID); err != nil {
			return err
		}
		if err := s.audit(ctx, c, AuditUserUpdated, userID); err != nil {
			return err
		}
		var err error
		au, err = s.adminUser(ctx, userID)
		return err
	})
	if err != nil {
		return nil, s.wrap("unlocking a user", err)
	}
	return au, nil
}

// ResetPasswordRequest is the body of POST /admin/users/{id}/reset-password.
type ResetPasswordRequest struct {
	NewPassword string
	DisableTOTP bool
}

// ResetUserPassword is POST /admin/users/{id}/reset-password (Auth A): a
// new password with the revocation of a password change (JWTs, sessions,
// wl_; a new wl_ at the next login): the user's client relay connections
// close 4001. USER_NOT_FOUND, PASSWORD_TOO_WEAK. Audit
// auth.password_changed (target: the user); events session.revoked {all},
// account.updated.
func (s *Service) ResetUserPassword(ctx context.Context, c Caller, userID string, req ResetPasswordRequest) (*AdminUser, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	var (
		au *AdminUser
		o  outbox
	)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		_, revoked, err := s.auth.ResetPassword(ctx, userID, req.NewPassword, req.DisableTOTP)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, c, AuditPasswordChanged, userID); err != nil {
			return err
		}
		if au, err = s.adminUser(ctx, userID); err != nil {
			return err
		}
		s.revokedAll(&o, userID, revoked)
		o.event(selfEvent(EventAccountUpdated, userID), au.User)
		return nil
	})
	if err != nil {
		return nil, s.wrap("resetting a password", err)
	}
	s.send(ctx, &o)
	return au, nil
}

// DeleteUser is DELETE /admin/users/{id} (Auth A): the user and everything
// it owns; all its relay connections close 4005. USER_NOT_FOUND,
// LAST_ADMIN. Audit user.deleted.
func (s *Service) DeleteUser(ctx context.Context, c Caller, userID string) error {
	if err := requireRule(c, AuthA); err != nil {
		return err
	}
	var o outbox
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		o = outbox{}
		if err := s.auth.DeleteUser(ctx, userID); err != nil {
			return err
		}
		if err := s.audit(ctx, c, AuditUserDeleted, userID); err != nil {
			return err
		}
		o.kick(relay.Target{Account: userID}, relay.CloseAccountDisabled, time.Time{})
		return nil
	})
	if err != nil {
		return s.wrap("deleting a user", err)
	}
	s.send(ctx, &o)
	return nil
}
