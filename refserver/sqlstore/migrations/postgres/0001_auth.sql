-- 0001_auth: accounts, credentials, agents and claim codes (package auth).
-- Times are Unix milliseconds (NULL = none); hashes are SHA-256 (32 bytes).
-- Keys use the "C" collation so that ordering is byte order on every
-- server locale (agent ids list in byte order, ULIDs sort by time).

CREATE TABLE users (
	id                      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	username                TEXT COLLATE "C" NOT NULL,
	email                   TEXT    NOT NULL DEFAULT '',
	role                    TEXT    NOT NULL,
	disabled                BOOLEAN NOT NULL DEFAULT FALSE,
	password_hash           TEXT    NOT NULL,
	generation              BIGINT  NOT NULL DEFAULT 0,
	agents_limit            INTEGER,
	created_at              BIGINT  NOT NULL,
	last_login_at           BIGINT,
	failed_logins           INTEGER NOT NULL DEFAULT 0,
	lockouts                INTEGER NOT NULL DEFAULT 0,
	locked_until            BIGINT,
	totp_secret             TEXT    NOT NULL DEFAULT '',
	totp_enabled_at         BIGINT,
	totp_pending_secret     TEXT    NOT NULL DEFAULT '',
	totp_pending_expires_at BIGINT,
	totp_last_step          BIGINT  NOT NULL DEFAULT 0,
	api_token_hint          TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE INDEX users_admins ON users (role, disabled);

CREATE TABLE agents (
	owner_id         TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	agent_id         TEXT COLLATE "C" NOT NULL,
	name             TEXT   NOT NULL,
	platform         TEXT   NOT NULL DEFAULT '',
	channel          TEXT   NOT NULL DEFAULT 'stable',
	firmware_version TEXT   NOT NULL DEFAULT '',
	ewsp_versions    TEXT   NOT NULL DEFAULT '',
	targets          TEXT   NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL,
	updated_at       BIGINT NOT NULL,
	last_seen        BIGINT,
	token_hint       TEXT   NOT NULL DEFAULT '',
	token_rotated_at BIGINT,
	bound_at         BIGINT,
	PRIMARY KEY (owner_id, agent_id)
);

CREATE TABLE auth_credentials (
	id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	hash         BYTEA  NOT NULL UNIQUE,
	kind         TEXT   NOT NULL,
	user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	agent_id     TEXT COLLATE "C",
	parent_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
	label        TEXT   NOT NULL DEFAULT '',
	created_via  TEXT   NOT NULL DEFAULT '',
	scope        TEXT   NOT NULL DEFAULT '',
	resource     TEXT   NOT NULL DEFAULT '',
	generation   BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT,
	last_used_at BIGINT,
	revoked_at   BIGINT,
	used_at      BIGINT,
	FOREIGN KEY (user_id, agent_id) REFERENCES agents (owner_id, agent_id) ON DELETE CASCADE
);
CREATE INDEX auth_credentials_user ON auth_credentials (user_id, kind, id);
-- Unrevoked rows, for the per-user caps and lists (revoked rows pile up
-- until purged; see liveRows in auth_credentials.go).
CREATE INDEX auth_credentials_unrevoked ON auth_credentials (user_id, kind, id) WHERE revoked_at IS NULL;
CREATE INDEX auth_credentials_user_revoked ON auth_credentials (user_id, kind, revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX auth_credentials_agent ON auth_credentials (user_id, agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX auth_credentials_parent ON auth_credentials (parent_id) WHERE parent_id <> '';
CREATE INDEX auth_credentials_expires ON auth_credentials (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX auth_credentials_revoked ON auth_credentials (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE auth_claim_codes (
	id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	hash           BYTEA  NOT NULL UNIQUE,
	owner_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hint      TEXT   NOT NULL DEFAULT '',
	agent_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
	name           TEXT   NOT NULL DEFAULT '',
	platform       TEXT   NOT NULL DEFAULT '',
	channel        TEXT   NOT NULL DEFAULT '',
	created_at     BIGINT NOT NULL,
	expires_at     BIGINT NOT NULL,
	used_at        BIGINT,
	install_id     TEXT   NOT NULL DEFAULT '',
	bound_agent_id TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX auth_claim_codes_owner ON auth_claim_codes (owner_id, id);
CREATE INDEX auth_claim_codes_expires ON auth_claim_codes (expires_at);

CREATE TABLE auth_recovery_codes (
	user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash    BYTEA  NOT NULL,
	used_at BIGINT,
	PRIMARY KEY (user_id, hash)
);

-- Denylisted JWT ids (logout) until the token's expiry. No foreign key:
-- DeleteUser removes a user's rows explicitly.
CREATE TABLE auth_jwt_denylist (
	jti        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	user_id    TEXT COLLATE "C" NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX auth_jwt_denylist_user ON auth_jwt_denylist (user_id);
CREATE INDEX auth_jwt_denylist_expires ON auth_jwt_denylist (expires_at);

-- Server secrets (the generated JWT key). Never exported in snapshots.
CREATE TABLE auth_secrets (
	name  TEXT  NOT NULL PRIMARY KEY,
	value BYTEA NOT NULL
);
