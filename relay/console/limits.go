package console

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Login attempts. Failures are counted per account and per client
// address in a window; past the bound the account, or the address, is
// locked out until the window ends. An attacker can lock an account out
// this way, but cannot guess its password faster than the bound.
const (
	// accountFailures locks an account after that many failed logins in
	// failureWindow.
	accountFailures = 5
	// addressFailures locks an address after that many failed logins, to
	// any accounts, in failureWindow.
	addressFailures = 20
	// failureWindow is how long failures are remembered and a lockout
	// lasts.
	failureWindow = 15 * time.Minute
	// maxTracked bounds the accounts and addresses remembered; the oldest
	// are forgotten first.
	maxTracked = 10_000
)

type failures struct {
	n     int
	first time.Time
}

// loginLimiter counts failed logins.
type loginLimiter struct {
	mu       sync.Mutex // guards the following
	accounts map[string]*failures
	addrs    map[string]*failures
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{accounts: map[string]*failures{}, addrs: map[string]*failures{}}
}

// locked returns how long until name or addr may try again; zero when they
// may now.
func (l *loginLimiter) locked(name, addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	wait := func(m map[string]*failures, key string, bound int) time.Duration {
		f := m[key]
		if f == nil {
			return 0
		}
		if now.Sub(f.first) >= failureWindow {
			delete(m, key)
			return 0
		}
		if f.n >= bound {
			return failureWindow - now.Sub(f.first)
		}
		return 0
	}
	return max(wait(l.accounts, name, accountFailures), wait(l.addrs, addr, addressFailures))
}

// failed records a failed login.
func (l *loginLimiter) failed(name, addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range []struct {
		m   map[string]*failures
		key string
	}{{l.accounts, name}, {l.addrs, addr}} {
		f := e.m[e.key]
		if f == nil || now.Sub(f.first) >= failureWindow {
			if len(e.m) >= maxTracked {
				forgetOldest(e.m)
			}
			f = &failures{first: now}
			e.m[e.key] = f
		}
		f.n++
	}
}

// succeeded forgets an account's failures.
func (l *loginLimiter) succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.accounts, name)
}

func forgetOldest(m map[string]*failures) {
	var oldest string
	var at time.Time
	for k, f := range m {
		if oldest == "" || f.first.Before(at) {
			oldest, at = k, f.first
		}
	}
	delete(m, oldest)
}

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
