package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// accounts keeps the moderator console's accounts and sessions
// (store.Accounts).
type accounts struct{ db *DB }

// Accounts implements store.Store.
func (db *DB) Accounts() store.Accounts { return accounts{db} }

func (a accounts) AddModerator(ctx context.Context, m store.Moderator, setup store.SetupToken, audit store.AuditEntry) error {
	return a.db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO moderators(name, role, password_hash, created_at, updated_at)
			VALUES (?, ?, '', ?, ?) ON CONFLICT(name) DO NOTHING`, m.Name, m.Role, ms(m.CreatedAt), ms(m.CreatedAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrExists
		}
		if err := putSetup(ctx, tx, m.Name, setup); err != nil {
			return err
		}
		return appendAudit(ctx, tx, []store.AuditEntry{audit})
	})
}

func putSetup(ctx context.Context, tx *sql.Tx, name string, setup store.SetupToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO moderator_setups(token_hash, name, expires_at) VALUES (?, ?, ?)`,
		setup.Hash, name, ms(setup.Expires))
	return err
}

func (a accounts) Moderator(ctx context.Context, name string) (store.Moderator, error) {
	m := store.Moderator{Name: name}
	var created, updated int64
	err := a.db.r.QueryRowContext(ctx, `SELECT role, password_hash, totp_secret, created_at, updated_at FROM moderators WHERE name = ?`,
		name).Scan(&m.Role, &m.PasswordHash, &m.TOTPSecret, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return m, store.ErrNotFound
	}
	m.CreatedAt, m.UpdatedAt = fromMS(created), fromMS(updated)
	return m, err
}

func (a accounts) Moderators(ctx context.Context) ([]store.Moderator, error) {
	rows, err := a.db.r.QueryContext(ctx, `SELECT name, role, password_hash, totp_secret, created_at, updated_at FROM moderators ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Moderator
	for rows.Next() {
		var m store.Moderator
		var created, updated int64
		if err := rows.Scan(&m.Name, &m.Role, &m.PasswordHash, &m.TOTPSecret, &created, &updated); err != nil {
			return nil, err
		}
		m.CreatedAt, m.UpdatedAt = fromMS(created), fromMS(updated)
		out = append(out, m)
	}
	return out, rows.Err()
}

// endAccess deletes a moderator's sessions and setup tokens.
func endAccess(ctx context.Context, tx *sql.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE name = ?`, name); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM moderator_setups WHERE name = ?`, name)
	return err
}

func (a accounts) RemoveModerator(ctx context.Context, name string, audit store.AuditEntry) error {
	return a.db.tx(ctx, func(tx *sql.Tx) error {
		if err := oneRow(tx.ExecContext(ctx, `DELETE FROM moderators WHERE name = ?`, name)); err != nil {
			return err
		}
		if err := endAccess(ctx, tx, name); err != nil {
			return err
		}
		return appendAudit(ctx, tx, []store.AuditEntry{audit})
	})
}

func (a accounts) ResetModerator(ctx context.Context, name string, setup store.SetupToken, audit store.AuditEntry) error {
	return a.db.tx(ctx, func(tx *sql.Tx) error {
		if err := oneRow(tx.ExecContext(ctx, `UPDATE moderators SET password_hash = '', totp_secret = '', totp_step = 0, updated_at = ? WHERE name = ?`,
			ms(audit.At), name)); err != nil {
			return err
		}
		if err := endAccess(ctx, tx, name); err != nil {
			return err
		}
		if err := putSetup(ctx, tx, name, setup); err != nil {
			return err
		}
		return appendAudit(ctx, tx, []store.AuditEntry{audit})
	})
}

func (a accounts) SetupPending(ctx context.Context, tokenHash string, now time.Time) (string, error) {
	var name string
	err := a.db.r.QueryRowContext(ctx, `SELECT name FROM moderator_setups WHERE token_hash = ? AND expires_at > ?`,
		tokenHash, ms(now)).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	return name, err
}

func (a accounts) CompleteSetup(ctx context.Context, tokenHash, passwordHash string, now time.Time, audit store.AuditEntry) (string, error) {
	var name string
	err := a.db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM moderator_setups WHERE token_hash = ? AND expires_at > ? RETURNING name`,
			tokenHash, ms(now)).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := oneRow(tx.ExecContext(ctx, `UPDATE moderators SET password_hash = ?, updated_at = ? WHERE name = ?`,
			passwordHash, ms(now), name)); err != nil {
			return err
		}
		// Whatever other links were open for this moderator are spent too.
		if _, err = tx.ExecContext(ctx, `DELETE FROM moderator_setups WHERE name = ?`, name); err != nil {
			return err
		}
		return appendAudit(ctx, tx, []store.AuditEntry{audit})
	})
	return name, err
}

func (a accounts) SetTOTP(ctx context.Context, name, secret, keepSession string, audit store.AuditEntry) error {
	return a.db.tx(ctx, func(tx *sql.Tx) error {
		if err := oneRow(tx.ExecContext(ctx, `UPDATE moderators SET totp_secret = ?, totp_step = 0, updated_at = ? WHERE name = ?`,
			secret, ms(audit.At), name)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE name = ? AND id_hash != ?`, name, keepSession); err != nil {
			return err
		}
		return appendAudit(ctx, tx, []store.AuditEntry{audit})
	})
}

func (a accounts) UseTOTPStep(ctx context.Context, name string, step int64) (bool, error) {
	res, err := a.db.w.ExecContext(ctx, `UPDATE moderators SET totp_step = ? WHERE name = ? AND totp_step < ?`, step, name, step)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (a accounts) CreateSession(ctx context.Context, s store.Session, passwordHash string) error {
	// Nothing is inserted (ErrNotFound) when the moderator was removed or
	// reset meanwhile.
	return oneRow(a.db.w.ExecContext(ctx, `INSERT INTO console_sessions(id_hash, name, csrf, address, created_at, last_seen)
		SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM moderators WHERE name = ? AND password_hash = ? AND password_hash != '')`,
		s.IDHash, s.Name, s.CSRF, s.Address, ms(s.CreatedAt), ms(s.LastSeen), s.Name, passwordHash))
}

func (a accounts) Session(ctx context.Context, idHash string, idleSince time.Time) (store.Session, error) {
	s := store.Session{IDHash: idHash}
	var created, seen int64
	err := a.db.r.QueryRowContext(ctx, `SELECT name, csrf, address, created_at, last_seen FROM console_sessions
		WHERE id_hash = ? AND last_seen >= ?`, idHash, ms(idleSince)).Scan(&s.Name, &s.CSRF, &s.Address, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return s, store.ErrNotFound
	}
	s.CreatedAt, s.LastSeen = fromMS(created), fromMS(seen)
	return s, err
}

func (a accounts) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	_, err := a.db.w.ExecContext(ctx, `UPDATE console_sessions SET last_seen = ? WHERE id_hash = ?`, ms(at), idHash)
	return err
}

func (a accounts) DeleteSession(ctx context.Context, idHash string) error {
	_, err := a.db.w.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = ?`, idHash)
	return err
}

func (a accounts) PruneSessions(ctx context.Context, idleSince, now time.Time) error {
	return a.db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE last_seen < ?`, ms(idleSince)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM moderator_setups WHERE expires_at <= ?`, ms(now))
		return err
	})
}

// oneRow is the error of a statement that must change exactly one row:
// store.ErrNotFound when it changed none.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
