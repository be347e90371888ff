package console

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// Registration is the registration setting.
type Registration string

// Registration values.
const (
	RegistrationClosed Registration = "closed"
	RegistrationOpen   Registration = "open"
)

// Settings are the writable server settings of API.md §3.8, as stored (one
// JSON document; the json names are the API's). DefaultSettings gives the
// defaults; Validate the bounds.
type Settings struct {
	Registration     Registration    `json:"registration"`
	AgentsPerAccount int             `json:"agents_per_account"` // 0 = unlimited
	Relay            RelaySettings   `json:"relay"`
	OTA              OTASettings     `json:"ota"`
	Sessions         SessionSettings `json:"sessions"`
	MCP              MCPSettings     `json:"mcp"`
}

// RelaySettings are the relay settings.
type RelaySettings struct {
	// OfflineQueueTTLS is offline_queue_ttl_s (0-300; 0 disables the
	// offline queue).
	OfflineQueueTTLS int `json:"offline_queue_ttl_s"`
	// MaxClientsPerAccount caps client connections per account per node.
	MaxClientsPerAccount int `json:"max_clients_per_account"`
	// LegacyAccountTokenDevices lets devices authenticate with wl_/wls_
	// when their agent_id names an agent of the account (API.md §4.2).
	LegacyAccountTokenDevices bool `json:"legacy_account_token_devices"`
}

// OTASettings are the OTA settings (used by the OTA issue).
type OTASettings struct {
	CheckIntervalS int `json:"check_interval_s"` // 300-86400
}

// SessionSettings are the session settings auth applies.
type SessionSettings struct {
	SessionTTLS     int `json:"session_ttl_s"`      // 3600-2592000
	MaxPerUser      int `json:"max_per_user"`       // 1-1000
	MaxRelayPerUser int `json:"max_relay_per_user"` // 1-1000
}

// MCPSettings are the MCP settings (used by the MCP issue).
type MCPSettings struct {
	Enabled       bool `json:"enabled"`
	ConfirmWrites bool `json:"confirm_writes"`
}

// Bounds of the settings (API.md §3.8; openapi.yaml's patch schemas).
const (
	MaxAgentsPerAccount     = 100000
	MaxOfflineQueueTTLS     = 300
	MinMaxClientsPerAccount = 1
	MaxMaxClientsPerAccount = 10000
	MinCheckIntervalS       = 300
	MaxCheckIntervalS       = 86400
	MinSessionTTLS          = 3600
	MaxSessionTTLS          = 2592000
	MaxSessionsCap          = 1000
)

// DefaultSettings returns the defaults of API.md §3.8.
func DefaultSettings() Settings {
	return Settings{
		Registration:     RegistrationClosed,
		AgentsPerAccount: 10,
		Relay:            RelaySettings{OfflineQueueTTLS: 30, MaxClientsPerAccount: relay.DefaultMaxClientsPerAccount},
		OTA:              OTASettings{CheckIntervalS: 3600},
		Sessions:         SessionSettings{SessionTTLS: 86400, MaxPerUser: 50, MaxRelayPerUser: 20},
		MCP:              MCPSettings{Enabled: true, ConfirmWrites: true},
	}
}

// Validate checks the bounds; VALIDATION_FAILED names every violation.
func (s Settings) Validate() error {
	var v validator
	if s.Registration != RegistrationClosed && s.Registration != RegistrationOpen {
		v.add("registration", "oneof", "closed open")
	}
	rangeCheck := func(field string, n, lo, hi int) {
		if n < lo || n > hi {
			v.add(field, "range", strconv.Itoa(lo)+"-"+strconv.Itoa(hi))
		}
	}
	rangeCheck("agents_per_account", s.AgentsPerAccount, 0, MaxAgentsPerAccount)
	rangeCheck("relay.offline_queue_ttl_s", s.Relay.OfflineQueueTTLS, 0, MaxOfflineQueueTTLS)
	rangeCheck("relay.max_clients_per_account", s.Relay.MaxClientsPerAccount, MinMaxClientsPerAccount, MaxMaxClientsPerAccount)
	rangeCheck("ota.check_interval_s", s.OTA.CheckIntervalS, MinCheckIntervalS, MaxCheckIntervalS)
	rangeCheck("sessions.session_ttl_s", s.Sessions.SessionTTLS, MinSessionTTLS, MaxSessionTTLS)
	rangeCheck("sessions.max_per_user", s.Sessions.MaxPerUser, 1, MaxSessionsCap)
	rangeCheck("sessions.max_relay_per_user", s.Sessions.MaxRelayPerUser, 1, MaxSessionsCap)
	return v.err()
}

// authSettings is what auth gets of the settings.
func (s Settings) authSettings() auth.Settings {
	return auth.Settings{
		RegistrationOpen:        s.Registration == RegistrationOpen,
		AgentsPerAccount:        s.AgentsPerAccount,
		SessionTTL:              time.Duration(s.Sessions.SessionTTLS) * time.Second,
		MaxSessionsPerUser:      s.Sessions.MaxPerUser,
		MaxRelaySessionsPerUser: s.Sessions.MaxRelayPerUser,
	}
}

// SettingsView is the Settings object of the API: the writable settings
// and the read-only deployment facts (flags, not settings).
type SettingsView struct {
	Settings
	PublicURL        *string `json:"public_url"` // null when unset
	RelayURL         string  `json:"relay_url"`
	DevAPI           bool    `json:"dev_api"`
	MaxArtifactBytes int64   `json:"max_artifact_bytes"`
}

// SettingsPatch is PATCH /settings: nil fields are unchanged.
type SettingsPatch struct {
	Registration     *Registration
	AgentsPerAccount *int
	Relay            *RelaySettingsPatch
	OTA              *OTASettingsPatch
	Sessions         *SessionSettingsPatch
	MCP              *MCPSettingsPatch
}

// RelaySettingsPatch changes relay settings; nil fields are unchanged.
type RelaySettingsPatch struct {
	OfflineQueueTTLS          *int
	MaxClientsPerAccount      *int
	LegacyAccountTokenDevices *bool
}

// OTASettingsPatch changes OTA settings.
type OTASettingsPatch struct {
	CheckIntervalS *int
}

// SessionSettingsPatch changes session settings.
type SessionSettingsPatch struct {
	SessionTTLS     *int
	MaxPerUser      *int
	MaxRelayPerUser *int
}

// MCPSettingsPatch changes MCP settings.
type MCPSettingsPatch struct {
	Enabled       *bool
	ConfirmWrites *bool
}

// apply returns s with p applied.
func (p SettingsPatch) apply(s Settings) Settings {
	set := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setB := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	if p.Registration != nil {
		s.Registration = *p.Registration
	}
	set(&s.AgentsPerAccount, p.AgentsPerAccount)
	if r := p.Relay; r != nil {
		set(&s.Relay.OfflineQueueTTLS, r.OfflineQueueTTLS)
		set(&s.Relay.MaxClientsPerAccount, r.MaxClientsPerAccount)
		setB(&s.Relay.LegacyAccountTokenDevices, r.LegacyAccountTokenDevices)
	}
	if o := p.OTA; o != nil {
		set(&s.OTA.CheckIntervalS, o.CheckIntervalS)
	}
	if x := p.Sessions; x != nil {
		set(&s.Sessions.SessionTTLS, x.SessionTTLS)
		set(&s.Sessions.MaxPerUser, x.MaxPerUser)
		set(&s.Sessions.MaxRelayPerUser, x.MaxRelayPerUser)
	}
	if m := p.MCP; m != nil {
		setB(&s.MCP.Enabled, m.Enabled)
		setB(&s.MCP.ConfirmWrites, m.ConfirmWrites)
	}
	return s
}

// UISettings are a user's UI preferences (GET/PUT /settings/ui).
type UISettings struct {
	Locale string `json:"locale"` // BCP 47, ≤ 16 (default en)
	Theme  string `json:"theme"`  // system | light | dark
}

// DefaultUISettings returns en / system.
func DefaultUISettings() UISettings { return UISettings{Locale: "en", Theme: "system"} }

// validLocale: ^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$, at most 16 bytes.
func validLocale(s string) bool {
	if len(s) < 2 || len(s) > 16 {
		return false
	}
	part, first := 0, true
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '-' {
			if (first && (part < 2 || part > 8)) || (!first && (part < 1 || part > 8)) {
				return false
			}
			part, first = 0, false
			continue
		}
		c := s[i]
		alpha := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !alpha && (first || c < '0' || c > '9') {
			return false
		}
		part++
	}
	return true
}

// settingsCache holds the settings in use; reloaded from the Store when
// older than Config.SettingsRefresh, so other nodes' changes arrive.
type settingsCache struct {
	set    Settings
	loaded time.Time
}

// Settings returns the server settings in use (cached; reloaded from the
// Store at most every Config.SettingsRefresh, so changes made on another
// node apply here within that time). On a reload failure the cached
// settings stay in use.
func (s *Service) Settings(ctx context.Context) Settings {
	now := time.Now() // cache ages use the real clock, never the dev offset
	c := s.settings.Load()
	if c != nil && now.Sub(c.loaded) < s.cfg.SettingsRefresh {
		return c.set
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	if c = s.settings.Load(); c != nil && now.Sub(c.loaded) < s.cfg.SettingsRefresh {
		return c.set
	}
	if err := s.loadSettings(ctx); err != nil {
		s.log.Warn("console: reloading settings failed; keeping the cached ones", "err", err)
		if c != nil {
			// Retry after another period, not on every call.
			s.settings.Store(&settingsCache{set: c.set, loaded: now})
			return c.set
		}
		return DefaultSettings()
	}
	return s.settings.Load().set
}

// loadSettings reads the settings (seeding them at the first start) and
// hands them to auth. Called with settingsMu held or from New.
func (s *Service) loadSettings(ctx context.Context) error {
	set, err := s.store.Settings(ctx, DefaultSettings())
	if errors.Is(err, ErrStoreNotFound) {
		seed := DefaultSettings()
		if s.cfg.InitialRegistration != "" {
			seed.Registration = s.cfg.InitialRegistration
		}
		set, err = s.store.InitSettings(ctx, seed)
	}
	if err != nil {
		return err
	}
	if err := set.Validate(); err != nil {
		// A document written by a newer version or by hand: keep what is
		// valid by falling back field group by field group is overkill;
		// refuse it loudly and keep the defaults for auth.
		return errors.New("console: stored settings are out of bounds")
	}
	s.applySettings(set)
	return nil
}

// applySettings caches set and pushes it to auth.
func (s *Service) applySettings(set Settings) {
	if err := s.auth.SetSettings(set.authSettings()); err != nil {
		s.log.Error("console: auth refused the settings", "err", err)
	}
	s.settings.Store(&settingsCache{set: set, loaded: time.Now()})
}

// RefreshSettings reloads the settings from the Store now (refserver may
// call it when another node publishes settings.updated).
func (s *Service) RefreshSettings(ctx context.Context) error {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	return s.wrap("refreshing settings", s.loadSettings(ctx))
}

func (s *Service) settingsView(set Settings) *SettingsView {
	v := &SettingsView{
		Settings:         set,
		RelayURL:         s.relayURL(context.Background()),
		DevAPI:           s.cfg.DevAPI,
		MaxArtifactBytes: s.cfg.MaxArtifactBytes,
	}
	if s.cfg.PublicURL != "" {
		u := s.cfg.PublicURL
		v.PublicURL = &u
	}
	return v
}

// GetSettings is GET /settings (Auth A).
func (s *Service) GetSettings(ctx context.Context, c Caller) (*SettingsView, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	return s.settingsView(s.Settings(ctx)), nil
}

// UpdateSettings is PATCH /settings (Auth A): it applies p, checks the
// bounds, stores the result with an audit row (settings.updated), hands
// the session settings to auth and publishes settings.updated.
func (s *Service) UpdateSettings(ctx context.Context, c Caller, p SettingsPatch) (*SettingsView, error) {
	if err := requireRule(c, AuthA); err != nil {
		return nil, err
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	cur, err := s.store.Settings(ctx, DefaultSettings())
	if errors.Is(err, ErrStoreNotFound) {
		cur, err = DefaultSettings(), nil
	}
	if err != nil {
		return nil, s.wrap("reading settings", err)
	}
	next := p.apply(cur)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.PutSettings(ctx, next); err != nil {
			return err
		}
		return s.audit(ctx, c, "settings.updated", "")
	})
	if err != nil {
		return nil, s.wrap("storing settings", err)
	}
	s.applySettings(next)
	view := s.settingsView(next)
	s.publish(ctx, Event{Type: EventSettingsUpdated}, view)
	return view, nil
}

// GetUISettings is GET /settings/ui (Auth C): the caller's UI settings,
// the defaults until stored.
func (s *Service) GetUISettings(ctx context.Context, c Caller) (*UISettings, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	ui, err := s.store.UISettings(ctx, c.UserID)
	if errors.Is(err, ErrStoreNotFound) {
		ui, err = DefaultUISettings(), nil
	}
	if err != nil {
		return nil, s.wrap("reading ui settings", err)
	}
	return &ui, nil
}

// PutUISettings is PUT /settings/ui (Auth C): both fields, validated.
func (s *Service) PutUISettings(ctx context.Context, c Caller, ui UISettings) (*UISettings, error) {
	if err := requireRule(c, AuthC); err != nil {
		return nil, err
	}
	var v validator
	if !validLocale(ui.Locale) {
		v.add("locale", "locale", "")
	}
	if ui.Theme != "system" && ui.Theme != "light" && ui.Theme != "dark" {
		v.add("theme", "oneof", "system light dark")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	switch err := s.store.PutUISettings(ctx, c.UserID, ui); {
	case errors.Is(err, ErrStoreNotFound):
		return nil, fail(auth.ErrUserNotFound)
	case err != nil:
		return nil, s.wrap("storing ui settings", err)
	}
	return &ui, nil
}
