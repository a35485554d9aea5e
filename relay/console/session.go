package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/store"
)

// Sessions.
const (
	// cookieName holds the session id; the store keeps only its hash.
	cookieName = "runrig_console"
	// IdleTimeout ends a session nobody used for that long.
	IdleTimeout = 12 * time.Hour
	// MaxSessionAge ends a session that old however much it is used.
	MaxSessionAge = 7 * 24 * time.Hour
	// touchEvery bounds how often a session's last use is written.
	touchEvery = time.Minute
)

// who is the signed-in moderator of a request.
type who struct {
	store.Session
	Role string
}

// operator names the moderator in the audit log: "console:NAME", apart
// from the operators of the CLI (their user names) and automatic changes
// ("list:NAME", "peer:HOST").
func (u *who) operator(why string) policy.Operator {
	return policy.Operator{Who: "console:" + u.Name, Why: why}
}

type ctxKey struct{}

// current returns the signed-in moderator of a request that passed
// signedIn.
func current(r *http.Request) *who {
	u, _ := r.Context().Value(ctxKey{}).(*who)
	return u
}

// signedIn lets through requests of a live session whose moderator has at
// least role; a POST must also carry the session's CSRF token and come
// from this site. Others are sent to the login page (GET) or refused.
func (c *Console) signedIn(role string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := c.session(r)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				c.cfg.Log.Error("console session", "err", err)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
				return
			}
			c.refuse(w, r, http.StatusUnauthorized, "no_session")
			return
		}
		if role == store.RoleAdmin && u.Role != store.RoleAdmin {
			c.refuse(w, r, http.StatusForbidden, "admin_only")
			return
		}
		if r.Method == http.MethodPost {
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(u.CSRF)) != 1 {
				c.refuse(w, r, http.StatusForbidden, "csrf")
				return
			}
			if c.crossSite(r) {
				c.refuse(w, r, http.StatusForbidden, "cross_site")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, u)))
	}
}

// session reads the request's live session and its moderator's role.
func (c *Console) session(r *http.Request) (*who, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, store.ErrNotFound
	}
	t := now()
	s, err := c.cfg.Sessions.Session(r.Context(), tokenHash(ck.Value), t.Add(-IdleTimeout))
	if err != nil {
		return nil, err
	}
	if t.Sub(s.CreatedAt) > MaxSessionAge {
		return nil, store.ErrNotFound
	}
	m, err := c.cfg.Sessions.Moderator(r.Context(), s.Name)
	if err != nil {
		return nil, err
	}
	if t.Sub(s.LastSeen) > touchEvery {
		if err := c.cfg.Sessions.TouchSession(r.Context(), s.IDHash, t); err != nil {
			return nil, err
		}
	}
	return &who{Session: s, Role: m.Role}, nil
}

// startSession signs m in: a new session in the store, made only while m's
// password is still the one just verified, and its cookie (a browser
// session cookie: the store decides when it ends).
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, m store.Moderator) error {
	id, idHash := newToken()
	csrf, _ := newToken()
	t := now()
	err := c.cfg.Sessions.CreateSession(r.Context(), store.Session{IDHash: idHash, Name: m.Name, CSRF: csrf,
		Address: c.clientAddr(r), CreatedAt: t, LastSeen: t}, m.PasswordHash)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/admin/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteStrictMode})
	return nil
}

func (c signInPages) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "login", nil, page{})
}

// login checks a moderator's name and password, within the sign-in
// limits: the attempt is counted before the password is hashed.
func (c signInPages) login(w http.ResponseWriter, r *http.Request) {
	name, password := r.PostFormValue("name"), r.PostFormValue("password")
	if !moderatorName.MatchString(name) || len(password) > 4*MaxPassword {
		c.refuseOn(w, r, http.StatusUnauthorized, "bad_login", "login", page{})
		return
	}
	m, err := c.cfg.Sessions.Moderator(r.Context(), name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.failed(w, r, err)
		return
	}
	settle, ok := c.checkPassword(w, r, m, exists, password, "login", "bad_login")
	if !ok {
		return
	}
	if m.TOTPSecret != "" {
		if reason, err := c.checkSecondFactor(r.Context(), m, r.PostFormValue("code")); err != nil {
			settle(notTried)
			c.failed(w, r, err)
			return
		} else if reason != "" {
			// The same answer as a wrong password: a right password with
			// a wrong code tells nothing.
			settle(failedAttempt)
			c.refuseOn(w, r, http.StatusUnauthorized, "bad_login", "login", page{})
			return
		}
	}
	settle(succeeded)
	if err := c.startSession(w, r, m); errors.Is(err, store.ErrNotFound) {
		// Reset or removed while the password was checked.
		c.refuseOn(w, r, http.StatusUnauthorized, "bad_login", "login", page{})
		return
	} else if err != nil {
		c.failed(w, r, err)
		return
	}
	c.cfg.Log.Info("moderator signed in to the console", "name", m.Name, "from", c.clientAddr(r))
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

// busy answers 503 while passwords are being hashed for others.
func (c *Console) busy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	c.refuse(w, r, http.StatusServiceUnavailable, "busy")
}

// checkPassword checks password for m (exists: m is an account) within
// the sign-in limits, counting the attempt before it hashes. When the
// password fails it answers the request itself, on the page view with the
// refusal bad: 429 when locked out, 503 when busy, 500, or 401. When it
// matches it returns the attempt's settle function, which the caller must
// call (a second factor may still fail the attempt).
func (c *Console) checkPassword(w http.ResponseWriter, r *http.Request, m store.Moderator, exists bool,
	password, view, bad string) (settle func(outcome), ok bool) {
	account := ""
	if exists {
		account = m.Name
	}
	wait, done := c.logins.reserve(account, c.clientAddr(r), now())
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		c.refuseOn(w, r, http.StatusTooManyRequests, "locked_out", view, page{})
		return nil, false
	}
	ok, err := c.cfg.Accounts.authenticate(r.Context(), m, exists, password)
	switch {
	case errors.Is(err, errBusy):
		done(notTried)
		c.busy(w, r)
	case err != nil:
		done(notTried)
		c.failed(w, r, err)
	case !ok:
		done(failedAttempt)
		c.refuseOn(w, r, http.StatusUnauthorized, bad, view, page{})
	default:
		return done, true
	}
	return nil, false
}

func (c signInPages) logout(w http.ResponseWriter, r *http.Request) {
	if err := c.cfg.Sessions.DeleteSession(r.Context(), current(r).IDHash); err != nil {
		c.failed(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/admin/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

func (c signInPages) setupPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if _, err := c.cfg.Accounts.pendingSetup(r.Context(), token); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.failed(w, r, err)
			return
		}
		c.refuse(w, r, http.StatusNotFound, "setup_spent")
		return
	}
	c.render(w, r, http.StatusOK, "setup", nil, page{Data: token})
}

// setup spends a setup link: the moderator chooses a password and is
// signed in. A bad token counts against the client's address, and is
// found out before any hashing.
func (c signInPages) setup(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	wait, done := c.logins.reserve("", c.clientAddr(r), now())
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		c.refuse(w, r, http.StatusTooManyRequests, "locked_out")
		return
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		done(notTried)
		c.render(w, r, http.StatusBadRequest, "setup", nil, page{Data: token, Message: msg("password_mismatch")})
		return
	}
	m, err := c.cfg.Accounts.completeSetup(r.Context(), token, pw)
	switch {
	case errors.Is(err, store.ErrNotFound):
		done(failedAttempt)
		c.refuse(w, r, http.StatusNotFound, "setup_spent")
		return
	case errors.Is(err, errPasswordLength):
		done(notTried)
		c.render(w, r, http.StatusBadRequest, "setup", nil, page{Data: token, Message: msg("password_length")})
		return
	case errors.Is(err, errBusy):
		done(notTried)
		c.busy(w, r)
		return
	case err != nil:
		done(notTried)
		c.failed(w, r, err)
		return
	}
	done(succeeded)
	if err := c.startSession(w, r, m); err != nil {
		c.failed(w, r, err)
		return
	}
	c.cfg.Log.Info("moderator chose a console password", "name", m.Name)
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

// failed answers a failure of the relay (not of the request) with 500.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, err error) {
	c.cfg.Log.Error("console", "route", route(r), "err", err)
	c.render(w, r, http.StatusInternalServerError, "error", nil, page{Message: msg("internal")})
}
