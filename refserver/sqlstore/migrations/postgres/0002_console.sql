-- 0002_console: settings, UI settings, audit log and idempotency records
-- (package restapi/console), and the address of an agent's last relay
-- connection. Times are Unix milliseconds; keys use the "C" collation.

ALTER TABLE agents ADD COLUMN last_remote_ip TEXT NOT NULL DEFAULT '';
CREATE INDEX agents_owner_name ON agents (owner_id, name COLLATE "C");
CREATE INDEX agents_owner_created ON agents (owner_id, created_at);

-- The server settings: one JSON document (name 'server').
CREATE TABLE console_settings (
	name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	value      TEXT   NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE console_ui_settings (
	user_id TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	locale  TEXT NOT NULL,
	theme   TEXT NOT NULL
);

-- The audit log. No foreign keys: rows outlive the users they name.
CREATE TABLE console_audit (
	id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	at         BIGINT NOT NULL,
	actor_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	actor_kind TEXT   NOT NULL,
	action     TEXT COLLATE "C" NOT NULL,
	target     TEXT   NOT NULL DEFAULT '',
	result     TEXT   NOT NULL,
	remote_ip  TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX console_audit_actor ON console_audit (actor_id, id);
CREATE INDEX console_audit_action ON console_audit (action, id);
CREATE INDEX console_audit_at ON console_audit (at);

-- Idempotency records (API.md §1.7): claimed and completed inside the
-- transaction of the request they guard.
CREATE TABLE console_idempotency (
	user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	idem_key    TEXT COLLATE "C" NOT NULL,
	fingerprint BYTEA  NOT NULL,
	response    BYTEA,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL,
	PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX console_idempotency_expires ON console_idempotency (expires_at);
