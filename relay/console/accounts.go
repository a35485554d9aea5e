package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// Accounts.
const (
	// SetupValidity is how long a setup link works.
	SetupValidity = 24 * time.Hour
	// setupPath is where a setup link points, under the public URL.
	setupPath = "/admin/setup/"
)

// Password hashing is the console's costliest work: at most maxHashing
// run at once, and one waits at most hashWait for its turn.
const (
	maxHashing = 2
	hashWait   = 5 * time.Second
)

var (
	moderatorName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)
	// setupToken is the form of a setup token: 32 random bytes, base64url.
	setupToken = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

// errBusy: too many passwords are being hashed; try again shortly.
var errBusy = errors.New("busy hashing passwords")

// ErrBadName: a moderator name that is not lower-case letters, digits,
// dots, dashes and underscores (at most 32).
var ErrBadName = errors.New("a moderator name is 1 to 32 lower-case letters, digits, '.', '-' or '_'")

// ErrBadRole: a role other than admin or moderator.
var ErrBadRole = fmt.Errorf("a role is %q or %q", store.RoleAdmin, store.RoleModerator)

// Accounts manages the console's moderators: the admin CLI and the
// console both call it.
type Accounts struct {
	st        store.Accounts
	publicURL string
	// dummy is a hash verified against when there is no account, to
	// spend the same time as a wrong password; made at first use, not at
	// start-up.
	dummy func() string
	// hashing holds a place per password being hashed; hashes counts
	// them (for tests and metrics).
	hashing chan struct{}
	hashes  atomic.Int64
}

// NewAccounts returns the account service over st, for a relay at
// publicURL.
func NewAccounts(st store.Accounts, publicURL string) *Accounts {
	dummy := sync.OnceValue(func() string { h, _ := hashPassword("runrig: no such account"); return h })
	return &Accounts{st: st, publicURL: publicURL, dummy: dummy, hashing: make(chan struct{}, maxHashing)}
}

// newToken returns a random token and the hash the store keeps of it.
func newToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token)
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Add creates a moderator and returns the one-time link where they choose
// a password, and when it expires.
func (a *Accounts) Add(ctx context.Context, op policy.Operator, name, role string) (string, time.Time, error) {
	if !moderatorName.MatchString(name) {
		return "", time.Time{}, ErrBadName
	}
	if role != store.RoleAdmin && role != store.RoleModerator {
		return "", time.Time{}, ErrBadRole
	}
	now := time.Now()
	token, hash := newToken()
	err := a.st.AddModerator(ctx, store.Moderator{Name: name, Role: role, CreatedAt: now},
		store.SetupToken{Hash: hash, Expires: now.Add(SetupValidity)},
		store.AuditEntry{At: now, Who: op.Who, What: "moderator.add", Subject: name, Why: op.Why, Source: "manual",
			Details: []byte(fmt.Sprintf(`{"role":%q}`, role))})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("moderator %s: %w", name, err)
	}
	return a.publicURL + setupPath + token, now.Add(SetupValidity), nil
}

// Reset ends a moderator's sessions, clears the password and returns a
// new setup link and when it expires.
func (a *Accounts) Reset(ctx context.Context, op policy.Operator, name string) (string, time.Time, error) {
	now := time.Now()
	token, hash := newToken()
	err := a.st.ResetModerator(ctx, name, store.SetupToken{Hash: hash, Expires: now.Add(SetupValidity)},
		store.AuditEntry{At: now, Who: op.Who, What: "moderator.reset", Subject: name, Why: op.Why, Source: "manual"})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("moderator %s: %w", name, err)
	}
	return a.publicURL + setupPath + token, now.Add(SetupValidity), nil
}

// Remove deletes a moderator and ends their sessions.
func (a *Accounts) Remove(ctx context.Context, op policy.Operator, name string) error {
	err := a.st.RemoveModerator(ctx, name, store.AuditEntry{At: time.Now(), Who: op.Who, What: "moderator.remove",
		Subject: name, Why: op.Why, Source: "manual"})
	if err != nil {
		return fmt.Errorf("moderator %s: %w", name, err)
	}
	return nil
}

// List returns every moderator.
func (a *Accounts) List(ctx context.Context) ([]store.Moderator, error) { return a.st.Moderators(ctx) }

// withHashSlot runs f, which hashes a password, when a place is free;
// errBusy when none frees within hashWait.
func (a *Accounts) withHashSlot(ctx context.Context, f func()) error {
	t := time.NewTimer(hashWait)
	defer t.Stop()
	select {
	case a.hashing <- struct{}{}:
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-a.hashing }()
	a.hashes.Add(1)
	f()
	return nil
}

// pendingSetup returns the moderator of an unexpired setup token;
// store.ErrNotFound for a malformed, unknown, spent or expired one.
func (a *Accounts) pendingSetup(ctx context.Context, token string) (string, error) {
	if !setupToken.MatchString(token) {
		return "", store.ErrNotFound
	}
	return a.st.SetupPending(ctx, tokenHash(token), time.Now())
}

// completeSetup sets the password of the setup link's moderator and
// returns the moderator with the new hash. The token is checked before
// any hashing.
func (a *Accounts) completeSetup(ctx context.Context, token, password string) (store.Moderator, error) {
	name, err := a.pendingSetup(ctx, token)
	if err != nil {
		return store.Moderator{}, err
	}
	if err := checkPassword(password); err != nil {
		return store.Moderator{}, err
	}
	var h string
	var herr error
	if err := a.withHashSlot(ctx, func() { h, herr = hashPassword(password) }); err != nil {
		return store.Moderator{}, err
	}
	if herr != nil {
		return store.Moderator{}, herr
	}
	name, err = a.st.CompleteSetup(ctx, tokenHash(token), h, time.Now(), store.AuditEntry{At: time.Now(),
		Who: "console:" + name, What: "moderator.setup", Subject: name, Why: "chose a password with a setup link", Source: "manual"})
	if err != nil {
		return store.Moderator{}, err
	}
	return a.st.Moderator(ctx, name)
}

// authenticate checks a moderator's password; a missing account costs the
// same hashing as a wrong password, so that timing does not tell names.
// errBusy when no hashing place frees in time.
func (a *Accounts) authenticate(ctx context.Context, m store.Moderator, exists bool, password string) (bool, error) {
	hash := m.PasswordHash
	if !exists || hash == "" {
		hash = a.dummy()
	}
	var ok bool
	var verr error
	if err := a.withHashSlot(ctx, func() { ok, verr = verifyPassword(hash, password) }); err != nil {
		return false, err
	}
	return ok && verr == nil && exists && m.PasswordHash != "", nil
}
