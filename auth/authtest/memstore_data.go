package authtest

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// The credential, agent, claim-code and secret methods of MemStore.

func viaIn(v auth.CreatedVia, vs []auth.CreatedVia) bool {
	return len(vs) == 0 || slices.Contains(vs, v)
}

func sortCreds(cs []auth.Credential) {
	slices.SortFunc(cs, func(a, b auth.Credential) int { return strings.Compare(a.ID, b.ID) })
}

// CreateCredential implements auth.CredentialStore.
func (s *MemStore) CreateCredential(ctx context.Context, c auth.Credential, lim auth.Limit) ([]string, error) {
	defer s.lock(ctx)()
	if _, ok := s.st.users[c.UserID]; !ok {
		return nil, auth.ErrNotFound
	}
	if c.AgentID != "" {
		if _, ok := s.st.agents[agentKey{c.UserID, c.AgentID}]; !ok {
			return nil, auth.ErrNotFound
		}
	}
	if _, ok := s.st.creds[c.ID]; ok {
		return nil, auth.ErrConflict
	}
	if _, ok := s.st.credByHash[c.Hash]; ok {
		return nil, auth.ErrConflict
	}
	var pool []auth.Credential
	for _, o := range s.st.creds {
		if o.UserID != c.UserID || o.Kind != c.Kind || !live(o, c.CreatedAt) {
			continue
		}
		if lim.UniqueLabel && o.Label == c.Label {
			return nil, auth.ErrConflict
		}
		if viaIn(o.CreatedVia, lim.Vias) {
			pool = append(pool, o)
		}
	}
	var evicted []string
	if lim.Max > 0 && len(pool) >= lim.Max {
		if !lim.Evict {
			return nil, auth.ErrLimitReached
		}
		sortCreds(pool)
		for _, o := range pool[:len(pool)-lim.Max+1] {
			o.RevokedAt = c.CreatedAt.UTC()
			s.st.creds[o.ID] = o
			evicted = append(evicted, o.ID)
		}
	}
	s.st.creds[c.ID] = c
	s.st.credByHash[c.Hash] = c.ID
	return evicted, nil
}

// CredentialByHash implements auth.CredentialStore.
func (s *MemStore) CredentialByHash(ctx context.Context, h auth.Hash) (auth.Credential, error) {
	defer s.lock(ctx)()
	id, ok := s.st.credByHash[h]
	if !ok {
		return auth.Credential{}, auth.ErrNotFound
	}
	return s.st.creds[id], nil
}

// CredentialsByID implements auth.CredentialStore.
func (s *MemStore) CredentialsByID(ctx context.Context, ids []string) ([]auth.Credential, error) {
	defer s.lock(ctx)()
	var out []auth.Credential
	for _, id := range ids {
		if c, ok := s.st.creds[id]; ok && !slices.ContainsFunc(out, func(o auth.Credential) bool { return o.ID == id }) {
			out = append(out, c)
		}
	}
	sortCreds(out)
	return out, nil
}

// ListCredentials implements auth.CredentialStore.
func (s *MemStore) ListCredentials(ctx context.Context, q auth.CredentialQuery) ([]auth.Credential, error) {
	defer s.lock(ctx)()
	var out []auth.Credential
	for _, c := range s.st.creds {
		if c.UserID == q.UserID && c.Kind == q.Kind && c.ID > q.After && (q.LiveAt.IsZero() || live(c, q.LiveAt)) {
			out = append(out, c)
		}
	}
	sortCreds(out)
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// RevokeCredentials implements auth.CredentialStore.
func (s *MemStore) RevokeCredentials(ctx context.Context, userID string, sel auth.Selector, at time.Time) ([]string, error) {
	defer s.lock(ctx)()
	var ids []string
	for id, c := range s.st.creds {
		if c.UserID != userID || !live(c, at) || !selects(sel, c) {
			continue
		}
		c.RevokedAt = at.UTC()
		s.st.creds[id] = c
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

func selects(sel auth.Selector, c auth.Credential) bool {
	return (len(sel.IDs) == 0 || slices.Contains(sel.IDs, c.ID)) &&
		(len(sel.Kinds) == 0 || slices.Contains(sel.Kinds, c.Kind)) &&
		(sel.ParentID == "" || sel.ParentID == c.ParentID) &&
		(sel.AgentID == "" || sel.AgentID == c.AgentID)
}

// ConsumeCredential implements auth.CredentialStore.
func (s *MemStore) ConsumeCredential(ctx context.Context, h auth.Hash, at time.Time) (auth.Credential, error) {
	defer s.lock(ctx)()
	id, ok := s.st.credByHash[h]
	if !ok {
		return auth.Credential{}, auth.ErrNotFound
	}
	c := s.st.creds[id]
	switch {
	case !c.UsedAt.IsZero():
		return c, auth.ErrUsed
	case !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(at):
		return c, auth.ErrExpired
	case !c.RevokedAt.IsZero() && !c.RevokedAt.After(at):
		return c, auth.ErrRevoked
	}
	u := c
	u.UsedAt = at.UTC()
	s.st.creds[id] = u
	return c, nil
}

// TouchCredential implements auth.CredentialStore.
func (s *MemStore) TouchCredential(ctx context.Context, id string, at time.Time) error {
	defer s.lock(ctx)()
	c, ok := s.st.creds[id]
	if !ok {
		return auth.ErrNotFound
	}
	c.LastUsedAt = at.UTC()
	s.st.creds[id] = c
	return nil
}

// DenyJTI implements auth.CredentialStore.
func (s *MemStore) DenyJTI(ctx context.Context, jti, userID string, until time.Time) error {
	defer s.lock(ctx)()
	if d, ok := s.st.denied[jti]; ok && d.until.After(until) {
		until = d.until
	}
	s.st.denied[jti] = denyEntry{user: userID, until: until.UTC()}
	return nil
}

// JTIDenied implements auth.CredentialStore.
func (s *MemStore) JTIDenied(ctx context.Context, jti string) (bool, error) {
	defer s.lock(ctx)()
	_, ok := s.st.denied[jti]
	return ok, nil
}

// Purge implements auth.CredentialStore.
func (s *MemStore) Purge(ctx context.Context, before time.Time) (int, error) {
	defer s.lock(ctx)()
	n := 0
	for id, c := range s.st.creds {
		if (!c.ExpiresAt.IsZero() && c.ExpiresAt.Before(before)) || (!c.RevokedAt.IsZero() && c.RevokedAt.Before(before)) {
			delete(s.st.creds, id)
			delete(s.st.credByHash, c.Hash)
			n++
		}
	}
	for id, c := range s.st.claims {
		if c.ExpiresAt.Before(before) {
			delete(s.st.claims, id)
			delete(s.st.claimByHash, c.Hash)
			n++
		}
	}
	for jti, d := range s.st.denied {
		if d.until.Before(before) {
			delete(s.st.denied, jti)
			n++
		}
	}
	return n, nil
}

// CreateAgent implements auth.AgentStore.
func (s *MemStore) CreateAgent(ctx context.Context, a auth.Agent, limit int) error {
	defer s.lock(ctx)()
	if _, ok := s.st.users[a.OwnerID]; !ok {
		return auth.ErrNotFound
	}
	k := agentKey{a.OwnerID, a.AgentID}
	if _, ok := s.st.agents[k]; ok {
		return auth.ErrConflict
	}
	if limit > 0 && s.countAgents(a.OwnerID) >= limit {
		return auth.ErrLimitReached
	}
	s.st.agents[k] = cloneAgent(a)
	return nil
}

func (s *MemStore) countAgents(owner string) int {
	n := 0
	for k := range s.st.agents {
		if k.owner == owner {
			n++
		}
	}
	return n
}

// Agent implements auth.AgentStore.
func (s *MemStore) Agent(ctx context.Context, ownerID, agentID string) (auth.Agent, error) {
	defer s.lock(ctx)()
	a, ok := s.st.agents[agentKey{ownerID, agentID}]
	if !ok {
		return auth.Agent{}, auth.ErrNotFound
	}
	return cloneAgent(a), nil
}

// ListAgents implements auth.AgentStore.
func (s *MemStore) ListAgents(ctx context.Context, ownerID, after string, limit int) ([]auth.Agent, error) {
	defer s.lock(ctx)()
	var out []auth.Agent
	for k, a := range s.st.agents {
		if k.owner == ownerID && k.id > after {
			out = append(out, cloneAgent(a))
		}
	}
	slices.SortFunc(out, func(a, b auth.Agent) int { return cmp.Compare(a.AgentID, b.AgentID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// CountAgents implements auth.AgentStore.
func (s *MemStore) CountAgents(ctx context.Context, ownerID string) (int, error) {
	defer s.lock(ctx)()
	return s.countAgents(ownerID), nil
}

// UpdateAgent implements auth.AgentStore.
func (s *MemStore) UpdateAgent(ctx context.Context, a auth.Agent) error {
	defer s.lock(ctx)()
	k := agentKey{a.OwnerID, a.AgentID}
	old, ok := s.st.agents[k]
	if !ok {
		return auth.ErrNotFound
	}
	a.CreatedAt = old.CreatedAt
	s.st.agents[k] = cloneAgent(a)
	return nil
}

// DeleteAgent implements auth.AgentStore.
func (s *MemStore) DeleteAgent(ctx context.Context, ownerID, agentID string) error {
	defer s.lock(ctx)()
	k := agentKey{ownerID, agentID}
	if _, ok := s.st.agents[k]; !ok {
		return auth.ErrNotFound
	}
	delete(s.st.agents, k)
	for id, c := range s.st.creds {
		if c.UserID == ownerID && c.AgentID == agentID {
			delete(s.st.creds, id)
			delete(s.st.credByHash, c.Hash)
		}
	}
	return nil
}

// CreateClaimCode implements auth.ClaimStore.
func (s *MemStore) CreateClaimCode(ctx context.Context, c auth.ClaimCode, maxActive int) error {
	defer s.lock(ctx)()
	if _, ok := s.st.users[c.OwnerID]; !ok {
		return auth.ErrNotFound
	}
	if _, ok := s.st.claims[c.ID]; ok {
		return auth.ErrConflict
	}
	if _, ok := s.st.claimByHash[c.Hash]; ok {
		return auth.ErrConflict
	}
	if maxActive > 0 {
		n := 0
		for _, o := range s.st.claims {
			if o.OwnerID == c.OwnerID && o.UsedAt.IsZero() && o.ExpiresAt.After(c.CreatedAt) {
				n++
			}
		}
		if n >= maxActive {
			return auth.ErrLimitReached
		}
	}
	s.st.claims[c.ID] = c
	s.st.claimByHash[c.Hash] = c.ID
	return nil
}

// ClaimCodeByHash implements auth.ClaimStore.
func (s *MemStore) ClaimCodeByHash(ctx context.Context, h auth.Hash) (auth.ClaimCode, error) {
	defer s.lock(ctx)()
	id, ok := s.st.claimByHash[h]
	if !ok {
		return auth.ClaimCode{}, auth.ErrNotFound
	}
	return s.st.claims[id], nil
}

// ListClaimCodes implements auth.ClaimStore.
func (s *MemStore) ListClaimCodes(ctx context.Context, ownerID string, activeAt time.Time) ([]auth.ClaimCode, error) {
	defer s.lock(ctx)()
	var out []auth.ClaimCode
	for _, c := range s.st.claims {
		if c.OwnerID == ownerID && c.UsedAt.IsZero() && c.ExpiresAt.After(activeAt) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b auth.ClaimCode) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteClaimCode implements auth.ClaimStore.
func (s *MemStore) DeleteClaimCode(ctx context.Context, ownerID, id string) error {
	defer s.lock(ctx)()
	c, ok := s.st.claims[id]
	if !ok || c.OwnerID != ownerID {
		return auth.ErrNotFound
	}
	delete(s.st.claims, id)
	delete(s.st.claimByHash, c.Hash)
	return nil
}

// ConsumeClaimCode implements auth.ClaimStore.
func (s *MemStore) ConsumeClaimCode(ctx context.Context, h auth.Hash, installID string, at time.Time) (auth.ClaimCode, error) {
	defer s.lock(ctx)()
	id, ok := s.st.claimByHash[h]
	if !ok {
		return auth.ClaimCode{}, auth.ErrNotFound
	}
	c := s.st.claims[id]
	switch {
	case !c.UsedAt.IsZero():
		return c, auth.ErrUsed
	case !c.ExpiresAt.After(at):
		return c, auth.ErrExpired
	}
	c.UsedAt, c.InstallID = at.UTC(), installID
	s.st.claims[id] = c
	return c, nil
}

// SetClaimAgent implements auth.ClaimStore.
func (s *MemStore) SetClaimAgent(ctx context.Context, id, agentID string) error {
	defer s.lock(ctx)()
	c, ok := s.st.claims[id]
	if !ok {
		return auth.ErrNotFound
	}
	c.BoundAgentID = agentID
	s.st.claims[id] = c
	return nil
}

// LoadOrStoreSecret implements auth.SecretStore.
func (s *MemStore) LoadOrStoreSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	defer s.lock(ctx)()
	if v, ok := s.st.secrets[name]; ok {
		return bytes.Clone(v), nil
	}
	s.st.secrets[name] = bytes.Clone(value)
	return bytes.Clone(value), nil
}

// PutSecret implements auth.SecretStore.
func (s *MemStore) PutSecret(ctx context.Context, name string, value []byte) error {
	defer s.lock(ctx)()
	s.st.secrets[name] = bytes.Clone(value)
	return nil
}
