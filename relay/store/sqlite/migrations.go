package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each once, forward only; the index+1 of
// the last applied one is kept in PRAGMA user_version. Never edit a
// released migration: append a new one.
var migrations = []string{
	// 1: subscriptions, delivery queue, dedupe, settings.
	`CREATE TABLE settings (
		name  TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);
	CREATE TABLE seen (
		activity_id TEXT PRIMARY KEY,
		seen_at     INTEGER NOT NULL
	);
	CREATE INDEX seen_at ON seen(seen_at);
	CREATE TABLE subscribers (
		peer              TEXT PRIMARY KEY,
		actor             TEXT NOT NULL,
		inbox             TEXT NOT NULL,
		follow_id         TEXT NOT NULL,
		style             TEXT NOT NULL,
		state             TEXT NOT NULL,
		follow_back_id    TEXT NOT NULL DEFAULT '',
		follow_back_state TEXT NOT NULL DEFAULT '',
		software          TEXT NOT NULL DEFAULT '',
		created_at        INTEGER NOT NULL,
		updated_at        INTEGER NOT NULL
	);
	CREATE TABLE peers (
		peer                 TEXT PRIMARY KEY,
		last_success         INTEGER NOT NULL DEFAULT 0,
		last_failure         INTEGER NOT NULL DEFAULT 0,
		last_error           TEXT NOT NULL DEFAULT '',
		consecutive_failures INTEGER NOT NULL DEFAULT 0,
		circuit_until        INTEGER NOT NULL DEFAULT 0,
		delivered            INTEGER NOT NULL DEFAULT 0,
		failed               INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE payloads (
		id          INTEGER PRIMARY KEY,
		activity_id TEXT NOT NULL,
		body        BLOB NOT NULL,
		created_at  INTEGER NOT NULL
	);
	CREATE TABLE deliveries (
		id          INTEGER PRIMARY KEY,
		payload_id  INTEGER NOT NULL REFERENCES payloads(id),
		peer        TEXT NOT NULL,
		inbox       TEXT NOT NULL,
		state       TEXT NOT NULL,
		attempts    INTEGER NOT NULL DEFAULT 0,
		next_at     INTEGER NOT NULL,
		lease_until INTEGER NOT NULL DEFAULT 0,
		last_error  TEXT NOT NULL DEFAULT '',
		created_at  INTEGER NOT NULL
	);
	CREATE INDEX deliveries_due ON deliveries(next_at, id) WHERE state != 'dead';
	CREATE INDEX deliveries_peer ON deliveries(peer, state);
	CREATE INDEX deliveries_payload ON deliveries(payload_id);`,
	// 2: messages that expire (listings) are not delivered after their end.
	`ALTER TABLE payloads ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX payloads_expiry ON payloads(expires_at) WHERE expires_at != 0;`,
	// 3: the index of current listings.
	`CREATE TABLE listings (
		id          TEXT PRIMARY KEY,
		activity_id TEXT NOT NULL,
		actor       TEXT NOT NULL,
		peer        TEXT NOT NULL,
		kind        TEXT NOT NULL,
		name        TEXT NOT NULL,
		start_at    INTEGER NOT NULL,
		end_at      INTEGER NOT NULL,
		lat         REAL,
		lon         REAL,
		activity    BLOB NOT NULL,
		received_at INTEGER NOT NULL
	);
	CREATE INDEX listings_end ON listings(end_at, id);
	CREATE INDEX listings_kind ON listings(kind, end_at);
	CREATE TABLE listing_regions (
		listing_id TEXT NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
		region     TEXT NOT NULL,
		PRIMARY KEY (region, listing_id)
	);
	CREATE INDEX listing_regions_listing ON listing_regions(listing_id);
	CREATE TABLE listing_products (
		listing_id TEXT NOT NULL REFERENCES listings(id) ON DELETE CASCADE,
		product    TEXT NOT NULL,
		PRIMARY KEY (product, listing_id)
	);
	CREATE INDEX listing_products_listing ON listing_products(listing_id);`,
	// 4: subscriptions per slice; deliveries know their subscription and
	// the key that signs them.
	`CREATE TABLE subscribers_v4 (
		slice             TEXT NOT NULL DEFAULT '',
		peer              TEXT NOT NULL,
		actor             TEXT NOT NULL,
		inbox             TEXT NOT NULL,
		follow_id         TEXT NOT NULL,
		style             TEXT NOT NULL,
		state             TEXT NOT NULL,
		follow_back_id    TEXT NOT NULL DEFAULT '',
		follow_back_state TEXT NOT NULL DEFAULT '',
		software          TEXT NOT NULL DEFAULT '',
		created_at        INTEGER NOT NULL,
		updated_at        INTEGER NOT NULL,
		PRIMARY KEY (slice, peer)
	);
	INSERT INTO subscribers_v4 (slice, peer, actor, inbox, follow_id, style, state, follow_back_id,
		follow_back_state, software, created_at, updated_at)
		SELECT '', peer, actor, inbox, follow_id, style, state, follow_back_id, follow_back_state,
		software, created_at, updated_at FROM subscribers;
	DROP TABLE subscribers;
	ALTER TABLE subscribers_v4 RENAME TO subscribers;
	CREATE INDEX subscribers_peer ON subscribers(peer);
	ALTER TABLE deliveries ADD COLUMN slice TEXT NOT NULL DEFAULT '';
	ALTER TABLE payloads ADD COLUMN key_id TEXT NOT NULL DEFAULT '';`,
	// 5: moderation rules and the append-only audit log.
	`CREATE TABLE rules (
		id              INTEGER PRIMARY KEY,
		kind            TEXT NOT NULL,
		subject         TEXT NOT NULL,
		action          TEXT NOT NULL,
		filters         TEXT NOT NULL DEFAULT '{}',
		public_comment  TEXT NOT NULL DEFAULT '',
		private_comment TEXT NOT NULL DEFAULT '',
		source          TEXT NOT NULL,
		draft           INTEGER NOT NULL DEFAULT 0,
		obfuscate       INTEGER NOT NULL DEFAULT 0,
		reject_reports  INTEGER NOT NULL DEFAULT 0,
		expires_at      INTEGER NOT NULL DEFAULT 0,
		created_at      INTEGER NOT NULL,
		author          TEXT NOT NULL
	);
	CREATE INDEX rules_subject ON rules(kind, subject);
	CREATE TABLE audit (
		id      INTEGER PRIMARY KEY,
		at      INTEGER NOT NULL,
		who     TEXT NOT NULL,
		what    TEXT NOT NULL,
		subject TEXT NOT NULL,
		why     TEXT NOT NULL DEFAULT '',
		source  TEXT NOT NULL DEFAULT '',
		details TEXT NOT NULL DEFAULT ''
	);
	CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
		BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
	CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
		BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`,
	// 6: trust levels set by moderators.
	`CREATE TABLE peer_trust (
		peer   TEXT PRIMARY KEY,
		level  TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT '',
		set_by TEXT NOT NULL,
		set_at INTEGER NOT NULL
	);`,
	// 7: subscriptions to shared domain lists.
	`CREATE TABLE list_subscriptions (
		name         TEXT PRIMARY KEY,
		url          TEXT NOT NULL,
		priority     INTEGER NOT NULL DEFAULT 0,
		interval_ms  INTEGER NOT NULL,
		draft        INTEGER NOT NULL DEFAULT 1,
		plain_action TEXT NOT NULL DEFAULT 'suspend',
		excludes     TEXT NOT NULL DEFAULT '[]',
		created_at   INTEGER NOT NULL,
		author       TEXT NOT NULL,
		last_fetch   INTEGER NOT NULL DEFAULT 0,
		last_error   TEXT NOT NULL DEFAULT '',
		entries      TEXT NOT NULL DEFAULT '[]',
		retracted    TEXT NOT NULL DEFAULT '[]'
	);`,
	// 8: pinned peer keys.
	`CREATE TABLE pinned_keys (
		key_id               TEXT PRIMARY KEY,
		owner                TEXT NOT NULL,
		peer                 TEXT NOT NULL,
		fingerprint          TEXT NOT NULL,
		previous_fingerprint TEXT NOT NULL DEFAULT '',
		rotations            INTEGER NOT NULL DEFAULT 0,
		first_seen           INTEGER NOT NULL,
		rotated_at           INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX pinned_keys_peer ON pinned_keys(peer);`,
	// 9: endorsements and censures of other domains.
	`CREATE TABLE endorsements (
		id         INTEGER PRIMARY KEY,
		domain     TEXT NOT NULL,
		kind       TEXT NOT NULL,
		reason     TEXT NOT NULL,
		author     TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		UNIQUE (domain, kind)
	);`,
	// 10: this relay's subscriptions to other relays.
	`CREATE TABLE relay_follows (
		peer       TEXT PRIMARY KEY,
		actor      TEXT NOT NULL,
		inbox      TEXT NOT NULL,
		follow_id  TEXT NOT NULL UNIQUE,
		state      TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);`,
	// 11: lists bring at most one rule per kind and subject (two syncs at
	// once could add duplicates). Of duplicates the one kept is live (no
	// draft, not expired) if any is, then the most severe, then the first.
	`DELETE FROM rules WHERE source LIKE 'list:%' AND id NOT IN (
		SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY kind, subject ORDER BY
			draft, (expires_at != 0 AND expires_at < CAST(strftime('%s', 'now') AS INTEGER) * 1000),
			CASE action WHEN 'suspend' THEN 0 WHEN 'reject' THEN 1 WHEN 'limit' THEN 2 WHEN 'accept' THEN 3 ELSE 4 END,
			id) AS n FROM rules WHERE source LIKE 'list:%') WHERE n = 1);
	CREATE UNIQUE INDEX rules_list_subject ON rules(kind, subject) WHERE source LIKE 'list:%';`,
	// 12: moderator console accounts, setup links and sessions (hashes
	// only: a copy of the store signs nobody in).
	`CREATE TABLE moderators (
		name          TEXT PRIMARY KEY,
		role          TEXT NOT NULL,
		password_hash TEXT NOT NULL DEFAULT '',
		totp_secret   TEXT NOT NULL DEFAULT '',
		totp_step     INTEGER NOT NULL DEFAULT 0,
		created_at    INTEGER NOT NULL,
		updated_at    INTEGER NOT NULL
	);
	CREATE TABLE moderator_setups (
		token_hash TEXT PRIMARY KEY,
		name       TEXT NOT NULL,
		expires_at INTEGER NOT NULL
	);
	CREATE INDEX moderator_setups_name ON moderator_setups(name);
	CREATE TABLE console_sessions (
		id_hash    TEXT PRIMARY KEY,
		name       TEXT NOT NULL,
		csrf       TEXT NOT NULL,
		address    TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		last_seen  INTEGER NOT NULL
	);
	CREATE INDEX console_sessions_name ON console_sessions(name);`,
	// 13: how each peer host takes signatures (draft-cavage, RFC 9421,
	// RFC 9421 with Ed25519), accepted or refused, until when.
	`CREATE TABLE signature_memory (
		host     TEXT NOT NULL,
		kind     TEXT NOT NULL,
		accepted INTEGER NOT NULL,
		until    INTEGER NOT NULL,
		PRIMARY KEY (host, kind)
	);`,
	// 14: DFC catalog bridges, each an actor with its own keys, and the
	// catalog items each has listed.
	`CREATE TABLE bridges (
		name          TEXT PRIMARY KEY,
		catalog_url   TEXT NOT NULL,
		auth          TEXT NOT NULL DEFAULT '',
		token         TEXT NOT NULL DEFAULT '',
		every_ms      INTEGER NOT NULL,
		region        TEXT NOT NULL DEFAULT '',
		kind          TEXT NOT NULL,
		key_pem       TEXT NOT NULL,
		ed25519_seed  BLOB NOT NULL,
		created_at    INTEGER NOT NULL,
		retired_at    INTEGER NOT NULL DEFAULT 0,
		actor_name    TEXT NOT NULL DEFAULT '',
		etag          TEXT NOT NULL DEFAULT '',
		last_modified TEXT NOT NULL DEFAULT '',
		last_attempt  INTEGER NOT NULL DEFAULT 0,
		last_success  INTEGER NOT NULL DEFAULT 0,
		last_error    TEXT NOT NULL DEFAULT '',
		listed        INTEGER NOT NULL DEFAULT 0,
		sold_out      INTEGER NOT NULL DEFAULT 0,
		skipped       INTEGER NOT NULL DEFAULT 0,
		held          INTEGER NOT NULL DEFAULT 0,
		problems      BLOB
	);
	CREATE TABLE bridge_items (
		bridge       TEXT NOT NULL REFERENCES bridges(name) ON DELETE CASCADE,
		item         TEXT NOT NULL,
		listing_id   TEXT NOT NULL,
		hash         TEXT NOT NULL,
		published_at INTEGER NOT NULL,
		updated_at   INTEGER NOT NULL,
		end_at       INTEGER NOT NULL,
		PRIMARY KEY (bridge, item)
	);`,
	// 15: replicas and their leases: every delivery lease has an owner,
	// the processes on the store and the singletons each runs. (SQLite
	// has one process; PostgreSQL's schema has the same tables.)
	`ALTER TABLE deliveries ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
	CREATE INDEX deliveries_owner ON deliveries(lease_owner, peer) WHERE lease_owner != '';
	CREATE TABLE replicas (
		id         TEXT PRIMARY KEY,
		host       TEXT NOT NULL,
		started_at INTEGER NOT NULL,
		seen_at    INTEGER NOT NULL,
		in_flight  INTEGER NOT NULL DEFAULT 0,
		delivered  INTEGER NOT NULL DEFAULT 0,
		failed     INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE leases (
		name  TEXT PRIMARY KEY,
		owner TEXT NOT NULL,
		until INTEGER NOT NULL
	);`,
	// 16: rule ids are never reused (AUTOINCREMENT), so that the audit
	// log's "rule 3" is one rule for ever; the sequence starts above every
	// id a rule had, removed ones included (the audit log names them).
	`CREATE TABLE rules_new (
		id              INTEGER PRIMARY KEY AUTOINCREMENT,
		kind            TEXT NOT NULL,
		subject         TEXT NOT NULL,
		action          TEXT NOT NULL,
		filters         TEXT NOT NULL DEFAULT '{}',
		public_comment  TEXT NOT NULL DEFAULT '',
		private_comment TEXT NOT NULL DEFAULT '',
		source          TEXT NOT NULL,
		draft           INTEGER NOT NULL DEFAULT 0,
		obfuscate       INTEGER NOT NULL DEFAULT 0,
		reject_reports  INTEGER NOT NULL DEFAULT 0,
		expires_at      INTEGER NOT NULL DEFAULT 0,
		created_at      INTEGER NOT NULL,
		author          TEXT NOT NULL
	);
	INSERT INTO rules_new SELECT id, kind, subject, action, filters, public_comment, private_comment, source,
		draft, obfuscate, reject_reports, expires_at, created_at, author FROM rules;
	DROP TABLE rules;
	ALTER TABLE rules_new RENAME TO rules;
	CREATE INDEX rules_subject ON rules(kind, subject);
	CREATE UNIQUE INDEX rules_list_subject ON rules(kind, subject) WHERE source LIKE 'list:%';
	DELETE FROM sqlite_sequence WHERE name = 'rules';
	INSERT INTO sqlite_sequence(name, seq) SELECT 'rules', max(
		(SELECT coalesce(max(id), 0) FROM rules),
		(SELECT coalesce(max(CAST(subject AS INTEGER)), 0) FROM audit WHERE what = 'rule.remove'));`,
}

// SchemaVersion is the version a freshly migrated store has.
var SchemaVersion = len(migrations)

func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("store schema version %d is newer than this runrig (%d): upgrade runrig", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}
