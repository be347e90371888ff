-- 0002_console: settings, UI settings, audit log and idempotency records
-- (package restapi/console), and the address of an agent's last relay
-- connection. Times are Unix milliseconds.

ALTER TABLE agents ADD COLUMN last_remote_ip TEXT NOT NULL DEFAULT '';
CREATE INDEX agents_owner_name ON agents (owner_id, name);
CREATE INDEX agents_owner_created ON agents (owner_id, created_at);

-- The server settings: one JSON document (name 'server').
CREATE TABLE console_settings (
	name       TEXT    NOT NULL PRIMARY KEY,
	value      TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE console_ui_settings (
	user_id TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	locale  TEXT NOT NULL,
	theme   TEXT NOT NULL
);

-- The audit log. No foreign keys: rows outlive the users they name.
CREATE TABLE console_audit (
	id         TEXT    NOT NULL PRIMARY KEY,
	at         INTEGER NOT NULL,
	actor_id   TEXT    NOT NULL DEFAULT '',
	actor_kind TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	target     TEXT    NOT NULL DEFAULT '',
	result     TEXT    NOT NULL,
	remote_ip  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX console_audit_actor ON console_audit (actor_id, id);
CREATE INDEX console_audit_action ON console_audit (action, id);
CREATE INDEX console_audit_at ON console_audit (at);

-- Idempotency records (API.md §1.7): claimed and completed inside the
-- transaction of the request they guard.
CREATE TABLE console_idempotency (
	user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	idem_key    TEXT    NOT NULL,
	fingerprint BLOB    NOT NULL,
	response    BLOB,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX console_idempotency_expires ON console_idempotency (expires_at);
