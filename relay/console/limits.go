package console

import (
	"net/http"
	"sync"
	"time"

	"github.com/runrig/runrig/policy"
)

// Sign-in attempts. An attempt is reserved before the password is hashed,
// so that parallel guesses count too. Failures are counted per existing
// account and per client address in a window; past the bound the account,
// or the address, is refused until the window ends. An attacker can lock
// an account out this way, but cannot guess its password faster than the
// bound. Made-up names are not tracked per account (they cannot be
// guessed into), only per address.
const (
	// accountFailures locks an account after that many failed sign-ins
	// in failureWindow.
	accountFailures = 5
	// addressFailures locks an address after that many failed sign-ins
	// or setup attempts, to any accounts, in failureWindow.
	addressFailures = 20
	// failureWindow is how long failures are remembered and a lockout
	// lasts.
	failureWindow = 15 * time.Minute
	// maxTracked bounds the addresses remembered; expired ones go first,
	// then the oldest that are not locked. Locked ones are never
	// forgotten early: when all are, a new address is refused.
	maxTracked = 10_000
)

type failures struct {
	n     int // failures and attempts in progress
	first time.Time
}

func (f *failures) expired(now time.Time) bool { return now.Sub(f.first) >= failureWindow }

// loginLimiter counts sign-in attempts.
type loginLimiter struct {
	mu       sync.Mutex // guards the following
	accounts map[string]*failures
	addrs    map[string]*failures
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{accounts: map[string]*failures{}, addrs: map[string]*failures{}}
}

// outcome is how a reserved attempt ended.
type outcome int

const (
	// succeeded: the right password; the account's failures are forgotten.
	succeeded outcome = iota
	// failedAttempt: the count stays.
	failedAttempt
	// notTried: the password was never checked (the relay was busy); the
	// attempt is given back.
	notTried
)

// reserve counts an attempt for account ("" when the name is no account)
// from addr ("" when the client's address is unknown) and returns how
// long until they may try again (zero: go on) and the function that
// records how the attempt ended.
func (l *loginLimiter) reserve(account, addr string, now time.Time) (time.Duration, func(outcome)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	af, wait := l.slot(l.accounts, account, accountFailures, now)
	if wait > 0 {
		return wait, nil
	}
	df, wait := l.slot(l.addrs, addr, addressFailures, now)
	if wait > 0 {
		return wait, nil
	}
	for _, f := range []*failures{af, df} {
		if f != nil {
			f.n++
		}
	}
	return 0, func(o outcome) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch o {
		case succeeded:
			delete(l.accounts, account)
			if df != nil && df.n > 0 {
				df.n--
			}
		case notTried:
			for _, f := range []*failures{af, df} {
				if f != nil && f.n > 0 {
					f.n--
				}
			}
		}
	}
}

// slot returns key's entry in m, new when there was none or it expired,
// or how long key must wait.
func (l *loginLimiter) slot(m map[string]*failures, key string, bound int, now time.Time) (*failures, time.Duration) {
	if key == "" {
		return nil, 0
	}
	f := m[key]
	if f != nil && f.expired(now) {
		f = nil
	}
	if f != nil && f.n >= bound {
		return nil, failureWindow - now.Sub(f.first)
	}
	if f == nil {
		if len(m) >= maxTracked && !makeRoom(m, bound, now) {
			return nil, failureWindow // every tracked address is locked
		}
		f = &failures{first: now}
		m[key] = f
	}
	return f, 0
}

// makeRoom forgets expired entries, else the oldest unlocked one; false
// when every entry is locked.
func makeRoom(m map[string]*failures, bound int, now time.Time) bool {
	var oldest string
	var at time.Time
	freed := false
	for k, f := range m {
		switch {
		case f.expired(now):
			delete(m, k)
			freed = true
		case f.n < bound && (oldest == "" || f.first.Before(at)):
			oldest, at = k, f.first
		}
	}
	if !freed && oldest != "" {
		delete(m, oldest)
		freed = true
	}
	return freed
}

// clientAddr is the address a sign-in is counted against (see
// policy.ClientAddr): "" when a proxy names nobody, and then no address
// lock applies.
func (c *Console) clientAddr(r *http.Request) string {
	return policy.ClientAddr(r, c.cfg.TrustedProxies)
}
