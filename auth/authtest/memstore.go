package authtest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// MemStore is an in-memory auth.Store for tests and examples. It passes Run.
// One mutex serialises every call, and InTx holds it for the whole
// transaction (rolled back by restoring a snapshot), so it is serializable
// but not fast. A context carrying a MemStore transaction must not be used
// from another goroutine while InTx runs, and fn must not wait for
// goroutines that call the store without that context.
type MemStore struct {
	mu sync.Mutex
	st memState
}

var _ auth.Store = (*MemStore)(nil)

type agentKey struct{ owner, id string }

type recKey struct {
	user string
	hash auth.Hash
}

type denyEntry struct {
	user  string
	until time.Time
}

// memState holds values only (slices inside are never mutated in place),
// so a shallow clone of each map is a snapshot.
type memState struct {
	users       map[string]auth.User
	names       map[string]string // lower-case username → id
	creds       map[string]auth.Credential
	credByHash  map[auth.Hash]string
	agents      map[agentKey]auth.Agent
	claims      map[string]auth.ClaimCode
	claimByHash map[auth.Hash]string
	recovery    map[recKey]time.Time // zero: unused
	denied      map[string]denyEntry
	secrets     map[string][]byte
}

func (st *memState) clone() memState {
	return memState{
		users: maps.Clone(st.users), names: maps.Clone(st.names),
		creds: maps.Clone(st.creds), credByHash: maps.Clone(st.credByHash),
		agents: maps.Clone(st.agents), claims: maps.Clone(st.claims), claimByHash: maps.Clone(st.claimByHash),
		recovery: maps.Clone(st.recovery), denied: maps.Clone(st.denied), secrets: maps.Clone(st.secrets),
	}
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{st: memState{
		users: map[string]auth.User{}, names: map[string]string{},
		creds: map[string]auth.Credential{}, credByHash: map[auth.Hash]string{},
		agents: map[agentKey]auth.Agent{}, claims: map[string]auth.ClaimCode{}, claimByHash: map[auth.Hash]string{},
		recovery: map[recKey]time.Time{}, denied: map[string]denyEntry{}, secrets: map[string][]byte{},
	}}
}

type memTxKey struct{}

type memTx struct {
	s     *MemStore
	hooks []func()
}

func (s *MemStore) tx(ctx context.Context) *memTx {
	if t, ok := ctx.Value(memTxKey{}).(*memTx); ok && t.s == s {
		return t
	}
	return nil
}

// lock takes the mutex unless ctx carries this store's transaction (which
// holds it already).
func (s *MemStore) lock(ctx context.Context) func() {
	if s.tx(ctx) != nil {
		return func() {}
	}
	s.mu.Lock()
	return s.mu.Unlock
}

// InTx implements auth.TxStore.
func (s *MemStore) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.tx(ctx) != nil {
		return fn(ctx)
	}
	s.mu.Lock()
	snap := s.st.clone()
	t := &memTx{s: s}
	committed := false
	defer func() {
		if !committed {
			s.st = snap
			s.mu.Unlock()
		}
	}()
	if err := fn(context.WithValue(ctx, memTxKey{}, t)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	committed = true
	s.mu.Unlock()
	for _, h := range t.hooks {
		h()
	}
	return nil
}

// AfterCommit implements auth.TxStore.
func (s *MemStore) AfterCommit(ctx context.Context, fn func()) {
	if t := s.tx(ctx); t != nil {
		t.hooks = append(t.hooks, fn)
		return
	}
	fn()
}

func live(c auth.Credential, at time.Time) bool {
	return (c.RevokedAt.IsZero() || c.RevokedAt.After(at)) && (c.ExpiresAt.IsZero() || c.ExpiresAt.After(at))
}

// cloneAgent copies the slices (empty ones become nil, as SQL stores
// return them).
func cloneAgent(a auth.Agent) auth.Agent {
	a.EWSPVersions = cloneOrNil(a.EWSPVersions)
	a.Targets = cloneOrNil(a.Targets)
	return a
}

func cloneOrNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func enabledAdmin(u auth.User) bool { return u.Role == auth.RoleAdmin && !u.Disabled }

// CreateUser implements auth.UserStore.
func (s *MemStore) CreateUser(ctx context.Context, u auth.User) error {
	defer s.lock(ctx)()
	return s.createUser(u)
}

func (s *MemStore) createUser(u auth.User) error {
	name := strings.ToLower(u.Username)
	if _, ok := s.st.users[u.ID]; ok {
		return auth.ErrConflict
	}
	if _, ok := s.st.names[name]; ok {
		return auth.ErrConflict
	}
	s.st.users[u.ID] = u
	s.st.names[name] = u.ID
	return nil
}

// CreateFirstUser implements auth.UserStore.
func (s *MemStore) CreateFirstUser(ctx context.Context, u auth.User) error {
	defer s.lock(ctx)()
	if len(s.st.users) > 0 {
		return auth.ErrNotEmpty
	}
	return s.createUser(u)
}

// HasUsers implements auth.UserStore.
func (s *MemStore) HasUsers(ctx context.Context) (bool, error) {
	defer s.lock(ctx)()
	return len(s.st.users) > 0, nil
}

// UserByID implements auth.UserStore.
func (s *MemStore) UserByID(ctx context.Context, id string) (auth.User, error) {
	defer s.lock(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return auth.User{}, auth.ErrNotFound
	}
	return u, nil
}

// UserByUsername implements auth.UserStore.
func (s *MemStore) UserByUsername(ctx context.Context, username string) (auth.User, error) {
	defer s.lock(ctx)()
	id, ok := s.st.names[strings.ToLower(username)]
	if !ok {
		return auth.User{}, auth.ErrNotFound
	}
	return s.st.users[id], nil
}

// ListUsers implements auth.UserStore.
func (s *MemStore) ListUsers(ctx context.Context, after string, limit int) ([]auth.User, error) {
	defer s.lock(ctx)()
	var out []auth.User
	for _, u := range s.st.users {
		if u.ID > after {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b auth.User) int { return strings.Compare(a.ID, b.ID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *MemStore) otherEnabledAdmins(id string) int {
	n := 0
	for _, u := range s.st.users {
		if u.ID != id && enabledAdmin(u) {
			n++
		}
	}
	return n
}

// UpdateUser implements auth.UserStore.
func (s *MemStore) UpdateUser(ctx context.Context, id string, p auth.UserPatch) (auth.User, error) {
	defer s.lock(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return auth.User{}, auth.ErrNotFound
	}
	was := enabledAdmin(u)
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setT := func(dst *time.Time, src *time.Time) {
		if src != nil {
			*dst = src.UTC()
		}
	}
	setS := func(dst *auth.Secret, src *auth.Secret) {
		if src != nil {
			*dst = *src
		}
	}
	setI := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.Email, p.Email)
	if p.Role != nil {
		u.Role = *p.Role
	}
	if p.Disabled != nil {
		u.Disabled = *p.Disabled
	}
	setS(&u.PasswordHash, p.PasswordHash)
	if p.BumpGeneration {
		u.Generation++
	}
	setI(&u.AgentsLimit, p.AgentsLimit)
	setT(&u.LastLoginAt, p.LastLoginAt)
	setI(&u.FailedLogins, p.FailedLogins)
	setI(&u.Lockouts, p.Lockouts)
	setT(&u.LockedUntil, p.LockedUntil)
	setS(&u.TOTPSecret, p.TOTPSecret)
	setT(&u.TOTPEnabledAt, p.TOTPEnabledAt)
	setS(&u.TOTPPendingSecret, p.TOTPPendingSecret)
	setT(&u.TOTPPendingExpiresAt, p.TOTPPendingExpiresAt)
	if p.TOTPLastStep != nil {
		u.TOTPLastStep = *p.TOTPLastStep
	}
	set(&u.APITokenHint, p.APITokenHint)
	if was && !enabledAdmin(u) && s.otherEnabledAdmins(id) == 0 {
		return auth.User{}, auth.ErrNoAdminLeft
	}
	s.st.users[id] = u
	return u, nil
}

// DeleteUser implements auth.UserStore.
func (s *MemStore) DeleteUser(ctx context.Context, id string) error {
	defer s.lock(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return auth.ErrNotFound
	}
	if enabledAdmin(u) && s.otherEnabledAdmins(id) == 0 {
		return auth.ErrNoAdminLeft
	}
	delete(s.st.users, id)
	delete(s.st.names, strings.ToLower(u.Username))
	for cid, c := range s.st.creds {
		if c.UserID == id {
			delete(s.st.creds, cid)
			delete(s.st.credByHash, c.Hash)
		}
	}
	for k := range s.st.agents {
		if k.owner == id {
			delete(s.st.agents, k)
		}
	}
	for cid, c := range s.st.claims {
		if c.OwnerID == id {
			delete(s.st.claims, cid)
			delete(s.st.claimByHash, c.Hash)
		}
	}
	for k := range s.st.recovery {
		if k.user == id {
			delete(s.st.recovery, k)
		}
	}
	for jti, d := range s.st.denied {
		if d.user == id {
			delete(s.st.denied, jti)
		}
	}
	return nil
}

// RecordLoginFailure implements auth.UserStore.
func (s *MemStore) RecordLoginFailure(ctx context.Context, id string) (int, error) {
	defer s.lock(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return 0, auth.ErrNotFound
	}
	u.FailedLogins++
	s.st.users[id] = u
	return u.FailedLogins, nil
}

// AcceptTOTPStep implements auth.UserStore.
func (s *MemStore) AcceptTOTPStep(ctx context.Context, id string, step int64) error {
	defer s.lock(ctx)()
	u, ok := s.st.users[id]
	if !ok {
		return auth.ErrNotFound
	}
	if step <= u.TOTPLastStep {
		return auth.ErrConflict
	}
	u.TOTPLastStep = step
	s.st.users[id] = u
	return nil
}

// ReplaceRecoveryCodes implements auth.UserStore.
func (s *MemStore) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []auth.Hash) error {
	defer s.lock(ctx)()
	if _, ok := s.st.users[userID]; !ok {
		return auth.ErrNotFound
	}
	for k := range s.st.recovery {
		if k.user == userID {
			delete(s.st.recovery, k)
		}
	}
	for _, h := range hashes {
		s.st.recovery[recKey{userID, h}] = time.Time{}
	}
	return nil
}

// UseRecoveryCode implements auth.UserStore.
func (s *MemStore) UseRecoveryCode(ctx context.Context, userID string, h auth.Hash, at time.Time) error {
	defer s.lock(ctx)()
	used, ok := s.st.recovery[recKey{userID, h}]
	if !ok || !used.IsZero() {
		return auth.ErrNotFound
	}
	s.st.recovery[recKey{userID, h}] = at.UTC()
	return nil
}

// CountRecoveryCodes implements auth.UserStore.
func (s *MemStore) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	defer s.lock(ctx)()
	n := 0
	for k, used := range s.st.recovery {
		if k.user == userID && used.IsZero() {
			n++
		}
	}
	return n, nil
}
