package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/argon2"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// The dev layer (API.md §3.13): registered by the REST layer only with
// -dev-api and for loopback callers; these methods refuse to run (NOT_FOUND)
// unless Config.DevAPI is set too.

func (s *Service) devOnly() error {
	if !s.cfg.DevAPI {
		return fail(ErrNotFound)
	}
	return nil
}

// DevReset is POST /api/v0/dev/reset: every user, agent, credential,
// claim code, setting, audit row and idempotency record is deleted (the
// JWT key is rotated instead, so old JWTs die too), the settings are
// seeded again from Config.InitialRegistration, the clock offset is
// cleared, and every relay connection is closed (1012).
func (s *Service) DevReset(ctx context.Context) error {
	if err := s.devOnly(); err != nil {
		return err
	}
	if err := s.store.Reset(ctx); err != nil {
		return s.wrap("resetting", err)
	}
	s.initialized.Store(false)
	s.clock.SetOffset(0)
	s.presence.mu.Lock()
	clear(s.presence.m)
	s.presence.mu.Unlock()
	if err := s.auth.RotateSigningKey(ctx); err != nil {
		// A configured key cannot rotate; cached credentials expire with
		// auth's cache TTL (5 s).
		s.log.Warn("console: dev reset could not rotate the JWT key", "err", err)
	}
	s.settingsMu.Lock()
	err := s.loadSettings(ctx)
	s.settingsMu.Unlock()
	if err != nil {
		return s.wrap("seeding settings", err)
	}
	var o outbox
	o.kick(relay.Target{All: true}, relay.CloseServiceRestart, time.Time{})
	s.send(ctx, &o)
	s.log.Warn("console: dev reset: every row deleted")
	return nil
}

// DevSeedRequest is the body of POST /api/v0/dev/seed.
type DevSeedRequest struct {
	Users         int    // 1-1000
	AgentsPerUser int    // 0-10 000
	Password      string // 1-128 characters; the policy is not applied
}

// MaxSeedAgents bounds the agents of one seed call (users ×
// agents_per_user).
const MaxSeedAgents = 100000

// DevSeedResult answers POST /api/v0/dev/seed.
type DevSeedResult struct {
	Users []DevSeedUser `json:"users"`
}

// DevSeedUser is a seeded user with its tokens.
type DevSeedUser struct {
	UserID   string         `json:"user_id"`
	Username string         `json:"username"`
	APIToken *Secret        `json:"api_token"`
	Agents   []DevSeedAgent `json:"agents"`
}

// DevSeedAgent is a seeded agent with its device token.
type DevSeedAgent struct {
	AgentID     string  `json:"agent_id"`
	DeviceToken *Secret `json:"device_token"`
}

// DevSeed is POST /api/v0/dev/seed: users (role user, no agent limit,
// usernames seed<8 hex>-<n>) with one password hashed once (argon2id at
// auth's default parameters; the policy is not applied) and their agents
// (agent-00000, …), returning every wl_ and wld_ (for load tests).
func (s *Service) DevSeed(ctx context.Context, req DevSeedRequest) (*DevSeedResult, error) {
	if err := s.devOnly(); err != nil {
		return nil, err
	}
	var v validator
	if req.Users < 1 || req.Users > 1000 {
		v.add("users", "range", "1-1000")
	}
	if req.AgentsPerUser < 0 || req.AgentsPerUser > 10000 {
		v.add("agents_per_user", "range", "0-10000")
	}
	if n := utf8.RuneCountInString(req.Password); !utf8.ValidString(req.Password) || n < 1 || n > auth.MaxPasswordLength {
		v.add("password", "range", "1-128")
	}
	if req.Users*req.AgentsPerUser > MaxSeedAgents {
		v.add("agents_per_user", "max_total", itoa(MaxSeedAgents))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	hash, err := seedHash(req.Password)
	if err != nil {
		return nil, err
	}
	var tag [4]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, err
	}
	now := s.now()
	users := make([]auth.User, req.Users)
	for i := range users {
		id, err := ulid.New(ulid.Timestamp(now), s.ids)
		if err != nil {
			return nil, err
		}
		users[i] = auth.User{ID: auth.PrefixUser + strings.ToLower(id.String()),
			Username: fmt.Sprintf("seed%s-%d", hex.EncodeToString(tag[:]), i), Role: auth.RoleUser,
			PasswordHash: auth.Secret(hash), AgentsLimit: 0, CreatedAt: now}
	}
	if err := s.store.InsertUsers(ctx, users); err != nil {
		return nil, s.wrap("seeding users", err)
	}
	out := &DevSeedResult{Users: make([]DevSeedUser, len(users))}
	for i, u := range users {
		su := DevSeedUser{UserID: u.ID, Username: u.Username, Agents: make([]DevSeedAgent, 0, req.AgentsPerUser)}
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			su.Agents = su.Agents[:0]
			t, err := s.auth.RotateAPIToken(ctx, auth.Principal{UserID: u.ID, Role: u.Role, Kind: auth.KindJWT})
			if err != nil {
				return err
			}
			su.APIToken = newSecret(t.Token)
			for j := range req.AgentsPerUser {
				id := fmt.Sprintf("agent-%05d", j)
				ia, err := s.auth.CreateAgent(ctx, u.ID, auth.AgentSpec{AgentID: id, Name: id})
				if err != nil {
					return err
				}
				su.Agents = append(su.Agents, DevSeedAgent{AgentID: id, DeviceToken: newSecret(ia.DeviceToken)})
			}
			return nil
		})
		if err != nil {
			return nil, s.wrap("seeding agents", err)
		}
		out.Users[i] = su
	}
	s.initialized.Store(true)
	return out, nil
}

// seedHash is auth's PHC argon2id encoding of pw with a fresh salt at the
// default parameters (auth verifies it like any stored hash).
func seedHash(pw string) (string, error) {
	p := auth.DefaultPasswordParams()
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// DevClockRequest is the body of POST /api/v0/dev/clock.
type DevClockRequest struct {
	OffsetS int64 // ±315 360 000 (10 years); 0: real time
}

// DevClockResult answers POST /api/v0/dev/clock.
type DevClockResult struct {
	OffsetS int64     `json:"offset_s"`
	Now     time.Time `json:"now"`
}

// DevClock is POST /api/v0/dev/clock: the clock offset (seconds, ±10
// years; 0 = real time; not cumulative) for token, claim, lockout and
// rollout expiry — auth's clock when refserver gave auth this Clock's Now.
func (s *Service) DevClock(ctx context.Context, req DevClockRequest) (*DevClockResult, error) {
	if err := s.devOnly(); err != nil {
		return nil, err
	}
	max := int64(MaxClockOffset / time.Second)
	offsetS := req.OffsetS
	if offsetS < -max || offsetS > max {
		return nil, invalid(FieldError{Field: "offset_s", Rule: "range", Param: "-315360000-315360000"})
	}
	s.clock.SetOffset(time.Duration(offsetS) * time.Second)
	s.log.Warn("console: dev clock offset set", "offset_s", offsetS)
	return &DevClockResult{OffsetS: offsetS, Now: s.now()}, nil
}
