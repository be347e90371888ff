package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/relay"
)

// Relay is what the console needs of the relay (DESIGN.md): kicks after a
// revocation commits, presence to merge into Agent objects, and the
// counters of the admin statistics. *relay.Server satisfies it.
type Relay interface {
	// Kick closes matching connections on every node with an API.md §4.7
	// close code at at (zero: now).
	Kick(ctx context.Context, t relay.Target, code int, at time.Time) error
	// Presence returns the account's connected agents, cluster-wide.
	Presence(ctx context.Context, accountID string) []relay.AgentPresence
	// AgentPresence reports whether one agent is connected, and where.
	AgentPresence(ctx context.Context, accountID, agentID string) (relay.AgentPresence, bool)
	// Stats returns this node's counters.
	Stats() relay.Stats
	// Node returns this node's id.
	Node() string
}

// BrokerStatus describes the relay broker for GET /system/status and the
// admin statistics; optional (nil: a single node with the in-process
// broker). refserver passes one for NATS.
type BrokerStatus interface {
	// Kind is "inproc" or "nats".
	Kind() string
	// Connected reports whether the broker connection is up.
	Connected() bool
	// Nodes is the number of relay nodes seen alive (this one included).
	Nodes() int
}

// BlobStatus describes the blob storage (data dir) for GET /system/status;
// optional (nil: reported ok with 0 free bytes).
type BlobStatus interface {
	// FreeBytes returns the free space of the data dir.
	FreeBytes(ctx context.Context) (int64, error)
}

// ReleaseKeys is the seam for the OTA issue: the trusted release signing
// keys put in provisioning bundles (API.md §3.3 ota.public_keys). Optional
// (nil: an empty list, until package ota exists).
type ReleaseKeys interface {
	PublicKeys(ctx context.Context) ([]OTAPublicKey, error)
}

// VersionInfo is the build's version for /system/version, /auth/config and
// the admin statistics. Empty fields are filled from the binary's build
// information ("dev" when nothing is known).
type VersionInfo struct {
	Version   string
	Commit    string
	BuildDate string // RFC 3339
}

// Config configures a Service. The zero Config is valid: every zero field
// takes the default documented on it.
type Config struct {
	// Clock is the server clock (with the dev offset); nil: a Clock over
	// time.Now. Give auth the same clock's Now (auth.Config.Now) so the
	// dev offset moves token expiry too.
	Clock *Clock
	// Logger receives operational messages (never secrets; credentials by
	// id); nil discards.
	Logger *slog.Logger

	// Relay, Events, Broker, Blobs and ReleaseKeys are optional
	// collaborators; Relay and Events may also be set after New (the relay
	// needs the Service as its Authenticator first). Nil Relay: no kicks,
	// every agent offline. Nil Events: nothing published, Subscribe
	// answers SERVICE_UNAVAILABLE.
	Relay       Relay
	Events      Events
	Broker      BrokerStatus
	Blobs       BlobStatus
	ReleaseKeys ReleaseKeys

	// Version is the build's version.
	Version VersionInfo
	// PublicURL is WAKELINK_PUBLIC_URL (scheme://host[:port], no path):
	// the base of api_url, relay_url and bind/check URLs. Empty: the base
	// URL the REST layer puts in the context (WithBaseURL), else
	// http://127.0.0.1:8080.
	PublicURL string
	// DevAPI reports -dev-api: the dev methods refuse to run without it.
	DevAPI bool
	// MaxArtifactBytes is WAKELINK_MAX_ARTIFACT, reported in settings; 0
	// means 64 MiB.
	MaxArtifactBytes int64
	// InitialRegistration seeds the registration setting when the
	// database has no settings yet (first start, or after a dev reset);
	// "" means closed.
	InitialRegistration Registration
	// PasswordMinLength and AccessTTL are reported by GET /auth/config;
	// pass the values given to auth.Config (0: 8 and 15 minutes).
	PasswordMinLength int
	AccessTTL         time.Duration
	// NodeID names this node in /system/status; "" means Relay.Node().
	NodeID string
	// StartedAt is the server's start; zero means when New ran.
	StartedAt time.Time

	// SettingsRefresh is how long cached settings are used before being
	// re-read (changes made on another node apply within it); 0 means 10 s.
	SettingsRefresh time.Duration
	// AuditRetention is how long Purge keeps audit rows; 0 means 365 days,
	// a negative value keeps them forever.
	AuditRetention time.Duration
	// PresenceTimeout bounds the database write of one presence event
	// (the relay calls the observer synchronously); 0 means 2 s.
	PresenceTimeout time.Duration
	// MaxTrackedAgents bounds the presence throttle's table (agents
	// connected to this node, and recently disconnected ones); 0 means
	// 200 000. Beyond it, events are written unthrottled.
	MaxTrackedAgents int
}

// Defaults of Config and fixed rules.
const (
	DefaultSettingsRefresh  = 10 * time.Second
	DefaultAuditRetention   = 365 * 24 * time.Hour
	DefaultPresenceTimeout  = 2 * time.Second
	DefaultMaxTrackedAgents = 200000
	DefaultMaxArtifactBytes = 64 << 20
	// IdempotencyTTL is how long an idempotency record answers replays
	// (API.md §1.7).
	IdempotencyTTL = 24 * time.Hour
	// LastSeenInterval is the most often last_seen is written for one
	// agent between its connect and disconnect (API.md §3.2).
	LastSeenInterval = 60 * time.Second
	// MaxPresenceList bounds GET /agents/presence (API.md §3.2).
	MaxPresenceList  = 10000
	defaultPublicURL = "http://127.0.0.1:8080"
)

// Service is the console service layer. It is safe for concurrent use,
// starts no goroutines and holds nothing to release, so it has no Close;
// call FlushPresence at shutdown.
type Service struct {
	auth  *auth.Service
	store Store
	cfg   Config
	clock *Clock
	log   *slog.Logger

	relay  atomic.Pointer[relayBox]
	events atomic.Pointer[eventsBox]

	settingsMu sync.Mutex // serialises settings loads and updates
	settings   atomic.Pointer[settingsCache]

	initialized atomic.Bool // a user exists (CheckSetup)
	version     VersionInfo
	goVersion   string

	ids      *ulid.LockedMonotonicReader // audit ids
	idem     inflight
	presence presenceTable
	metrics  *metrics
}

type relayBox struct{ r Relay }
type eventsBox struct{ e Events }

// New returns a Service over the auth service and the console store, which
// must share one database and its transactions (refserver/sqlstore's Auth
// and Console views of one Store). It validates cfg (the error names the
// field) and loads the settings, seeding them on a new database
// (InitialRegistration) and handing them to auth; this is New's only Store
// call.
func New(authSvc *auth.Service, store Store, cfg Config) (*Service, error) {
	if authSvc == nil {
		return nil, errors.New("console: New: nil auth.Service")
	}
	if store == nil {
		return nil, errors.New("console: New: nil Store")
	}
	if cfg.Clock == nil {
		cfg.Clock = NewClock(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	durs := []struct {
		name string
		p    *time.Duration
		def  time.Duration
	}{
		{"SettingsRefresh", &cfg.SettingsRefresh, DefaultSettingsRefresh},
		{"PresenceTimeout", &cfg.PresenceTimeout, DefaultPresenceTimeout},
		{"AccessTTL", &cfg.AccessTTL, auth.DefaultAccessTTL},
	}
	for _, d := range durs {
		if *d.p < 0 {
			return nil, configError(d.name, "negative")
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if cfg.AuditRetention == 0 {
		cfg.AuditRetention = DefaultAuditRetention
	}
	switch {
	case cfg.MaxTrackedAgents < 0:
		return nil, configError("MaxTrackedAgents", "negative")
	case cfg.MaxTrackedAgents == 0:
		cfg.MaxTrackedAgents = DefaultMaxTrackedAgents
	}
	switch {
	case cfg.MaxArtifactBytes < 0:
		return nil, configError("MaxArtifactBytes", "negative")
	case cfg.MaxArtifactBytes == 0:
		cfg.MaxArtifactBytes = DefaultMaxArtifactBytes
	}
	switch {
	case cfg.PasswordMinLength == 0:
		cfg.PasswordMinLength = auth.DefaultPasswordMinLength
	case cfg.PasswordMinLength < auth.DefaultPasswordMinLength || cfg.PasswordMinLength > auth.MaxPasswordLength:
		return nil, configError("PasswordMinLength", "must be 8-128")
	}
	switch cfg.InitialRegistration {
	case "", RegistrationClosed, RegistrationOpen:
	default:
		return nil, configError("InitialRegistration", `must be "closed" or "open"`)
	}
	if cfg.PublicURL != "" {
		u, err := normalizeBaseURL(cfg.PublicURL)
		if err != nil {
			return nil, configError("PublicURL", err.Error())
		}
		cfg.PublicURL = u
	}
	if cfg.StartedAt.IsZero() {
		cfg.StartedAt = cfg.Clock.Now()
	}
	s := &Service{
		auth:      authSvc,
		store:     store,
		cfg:       cfg,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		version:   versionInfo(cfg.Version),
		goVersion: runtime.Version(),
		metrics:   newMetrics(),
		ids:       newIDs(),
	}
	s.presence.init(cfg.MaxTrackedAgents)
	s.SetRelay(cfg.Relay)
	s.SetEvents(cfg.Events)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.settingsMu.Lock()
	err := s.loadSettings(ctx)
	s.settingsMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("console: loading the settings: %w", err)
	}
	return s, nil
}

func configError(field, why string) error {
	return fmt.Errorf("console: invalid Config.%s: %s", field, why)
}

func versionInfo(v VersionInfo) VersionInfo {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, kv := range bi.Settings {
			switch {
			case kv.Key == "vcs.revision" && v.Commit == "":
				v.Commit = kv.Value
			case kv.Key == "vcs.time" && v.BuildDate == "":
				v.BuildDate = kv.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

// SetRelay sets (or, with nil, removes) the relay the Service kicks and
// asks for presence. refserver calls it once relay.New has returned (the
// relay needs the Service as its Authenticator first). Safe at any time.
func (s *Service) SetRelay(r Relay) {
	if r == nil {
		s.relay.Store(nil)
		return
	}
	s.relay.Store(&relayBox{r})
}

// SetEvents sets (or removes) the event hub the Service publishes to.
func (s *Service) SetEvents(e Events) {
	if e == nil {
		s.events.Store(nil)
		return
	}
	s.events.Store(&eventsBox{e})
}

func (s *Service) rly() Relay {
	if b := s.relay.Load(); b != nil {
		return b.r
	}
	return nil
}

func (s *Service) hub() Events {
	if b := s.events.Load(); b != nil {
		return b.e
	}
	return nil
}

// now is the server clock (with the dev offset), UTC, in milliseconds like
// every stored time.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// Purge deletes what expired: auth's revoked and expired credentials,
// claim codes and denylisted JWT ids older than retention (0: auth's
// default, 7 days), idempotency records past their 24 h, and audit rows
// older than Config.AuditRetention. The Service starts no goroutine:
// refserver calls Purge periodically (hourly is plenty).
func (s *Service) Purge(ctx context.Context, retention time.Duration) (int, error) {
	n, err := s.auth.Purge(ctx, retention)
	if err != nil {
		return n, s.wrap("purging credentials", err)
	}
	now := s.now()
	var auditBefore time.Time
	if s.cfg.AuditRetention > 0 {
		auditBefore = now.Add(-s.cfg.AuditRetention)
	}
	m, err := s.store.Purge(ctx, now, auditBefore)
	return n + m, s.wrap("purging", err)
}

// metrics are the Service's Prometheus collectors (per instance).
type metrics struct {
	notifyFailures *prometheus.CounterVec
	auditFailures  prometheus.Counter
	replays        prometheus.Counter
	presenceWrites *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		notifyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wakelink_notify_failures_total",
			Help: "Post-commit notifications that failed (API.md §1.9), by target: relay (kicks) or events (SSE).",
		}, []string{"target"}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wakelink_console_audit_failures_total",
			Help: "Audit rows written outside a use case's transaction (login) that could not be stored.",
		}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wakelink_console_idempotent_replays_total",
			Help: "Requests answered from an idempotency record.",
		}),
		presenceWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wakelink_console_presence_writes_total",
			Help: "Presence events by outcome: written (last_seen stored), throttled (deferred, at most one write per agent per 60 s), failed.",
		}, []string{"result"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.notifyFailures, m.auditFailures, m.replays, m.presenceWrites}
}

// Collector returns a Prometheus collector of this Service's metrics:
// wakelink_notify_failures_total{target}, and
// wakelink_console_{audit_failures,idempotent_replays,presence_writes}_total.
// Register it where the program wants (never done here).
func (s *Service) Collector() prometheus.Collector { return (*collector)(s.metrics) }

type collector metrics

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, x := range (*metrics)(c).collectors() {
		x.Describe(ch)
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, x := range (*metrics)(c).collectors() {
		x.Collect(ch)
	}
}
