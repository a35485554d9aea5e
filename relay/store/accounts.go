package store

import (
	"context"
	"time"
)

// Moderator roles.
const (
	// RoleAdmin may do everything, settings-level acts included.
	RoleAdmin = "admin"
	// RoleModerator handles subscribers, rules, lists, drafts and dead
	// letters.
	RoleModerator = "moderator"
)

// Moderator is an account of the moderator console.
type Moderator struct {
	Name string
	Role string
	// PasswordHash is the encoded memory-hard hash of the password; empty
	// until the moderator has followed the setup link.
	PasswordHash string
	// TOTPSecret, when set, is the base32 secret of the moderator's
	// second factor (RFC 6238).
	TOTPSecret string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SetupToken lets a moderator choose a password once, until it expires.
// Only its hash is kept.
type SetupToken struct {
	Hash    string
	Expires time.Time
}

// Session is a signed-in console session. Only the hash of its cookie is
// kept, so that a copy of the store signs nobody in.
type Session struct {
	IDHash    string
	Name      string
	CSRF      string
	Address   string
	CreatedAt time.Time
	LastSeen  time.Time
}

// Accounts keeps the console's moderators and sessions. Each change to a
// moderator is written with its audit entry in one transaction.
type Accounts interface {
	// AddModerator creates a moderator with a setup token; ErrExists when
	// the name is taken.
	AddModerator(ctx context.Context, m Moderator, setup SetupToken, audit AuditEntry) error
	// Moderator returns one moderator; ErrNotFound when there is none.
	Moderator(ctx context.Context, name string) (Moderator, error)
	// Moderators lists every moderator by name.
	Moderators(ctx context.Context) ([]Moderator, error)
	// RemoveModerator deletes a moderator with its sessions and setup
	// tokens; ErrNotFound when there is none.
	RemoveModerator(ctx context.Context, name string, audit AuditEntry) error
	// ResetModerator clears a moderator's password, ends its sessions and
	// replaces its setup tokens by setup; ErrNotFound when there is none.
	ResetModerator(ctx context.Context, name string, setup SetupToken, audit AuditEntry) error
	// SetupPending returns the moderator an unexpired setup token is for,
	// without spending it; ErrNotFound for an unknown, spent or expired
	// token.
	SetupPending(ctx context.Context, tokenHash string, now time.Time) (string, error)
	// CompleteSetup spends an unexpired setup token and sets the password
	// hash of its moderator, with the audit entry, returning the name;
	// ErrNotFound for an
	// unknown, spent or expired token.
	CompleteSetup(ctx context.Context, tokenHash, passwordHash string, now time.Time, audit AuditEntry) (string, error)
	// SetTOTP sets (or, with "", clears) a moderator's second factor and
	// ends the moderator's sessions but keepSession (an id hash), with its
	// audit entry; ErrNotFound when there is no such moderator.
	SetTOTP(ctx context.Context, name, secret, keepSession string, audit AuditEntry) error
	// UseTOTPStep records that a second-factor code of time step step was
	// used, and reports false when one of that step or a later one was
	// used before (a replayed code).
	UseTOTPStep(ctx context.Context, name string, step int64) (bool, error)
	// CreateSession records a new session of a moderator whose password
	// hash is still passwordHash (the one just verified); ErrNotFound when
	// the moderator is gone or was reset meanwhile.
	CreateSession(ctx context.Context, s Session, passwordHash string) error
	// Session returns a session by the hash of its id; ErrNotFound when
	// there is none or it was idle since before idleSince.
	Session(ctx context.Context, idHash string, idleSince time.Time) (Session, error)
	// TouchSession records activity in a session.
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	// DeleteSession ends a session.
	DeleteSession(ctx context.Context, idHash string) error
	// PruneSessions deletes sessions idle since before idleSince and
	// expired setup tokens.
	PruneSessions(ctx context.Context, idleSince, now time.Time) error
}
