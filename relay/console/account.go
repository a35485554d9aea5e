package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// checkSecondFactor checks a sign-in's one-time code against m's second
// factor; it returns the message key of the refusal, or "".
func (c *Console) checkSecondFactor(ctx context.Context, m store.Moderator, code string) string {
	step, ok := matchTOTP(m.TOTPSecret, code, now())
	if !ok {
		return "bad_code"
	}
	fresh, err := c.cfg.Sessions.UseTOTPStep(ctx, m.Name, step)
	if err != nil {
		c.cfg.Log.Error("console second factor", "err", err)
		return "internal"
	}
	if !fresh {
		return "code_used"
	}
	return ""
}

// accountData is what the account page shows.
type accountData struct {
	Name, Role string
	TwoFactor  bool
	// Secret and URI are a new second factor to set up, when there is
	// none.
	Secret, URI string
}

// account shows the signed-in moderator's own account: the second factor.
func (c accountPages) account(w http.ResponseWriter, r *http.Request) {
	u := current(r)
	m, err := c.cfg.Sessions.Moderator(r.Context(), u.Name)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	d := accountData{Name: m.Name, Role: m.Role, TwoFactor: m.TOTPSecret != ""}
	if !d.TwoFactor {
		d.Secret = newTOTPSecret()
		d.URI = totpURI(c.cfg.Name, m.Name, d.Secret)
	}
	c.render(w, r, http.StatusOK, "account", nil, page{Data: d, Message: notice(r)})
}

// setSecondFactor turns the second factor on (with the secret the page
// offered and a code of it, proving the app has it) or off (with a code
// of the current one). Either needs the moderator's password, checked
// within the sign-in limits, so that a stolen session cannot change it;
// the account's other sessions end.
func (c accountPages) setSecondFactor(w http.ResponseWriter, r *http.Request) {
	u := current(r)
	m, err := c.cfg.Sessions.Moderator(r.Context(), u.Name)
	if err != nil {
		c.failed(w, r, err)
		return
	}
	if !c.passwordAgain(w, r, m) {
		return
	}
	code := r.PostFormValue("code")
	var secret, what, done string
	var step int64
	switch r.PostFormValue("action") {
	case "enable":
		secret, what, done = r.PostFormValue("secret"), "moderator.2fa_on", "totp_on"
		if m.TOTPSecret != "" || len(secret) != 32 {
			c.refuse(w, r, http.StatusBadRequest, "bad_form")
			return
		}
		var ok bool
		if step, ok = matchTOTP(secret, code, now()); !ok {
			c.render(w, r, http.StatusBadRequest, "account", nil, page{Message: msg("bad_code"),
				Data: accountData{Name: m.Name, Role: m.Role, Secret: secret, URI: totpURI(c.cfg.Name, m.Name, secret)}})
			return
		}
	case "disable":
		what, done = "moderator.2fa_off", "totp_off"
		if m.TOTPSecret == "" {
			c.refuse(w, r, http.StatusBadRequest, "bad_form")
			return
		}
		if reason := c.checkSecondFactor(r.Context(), m, code); reason != "" {
			c.render(w, r, http.StatusBadRequest, "account", nil, page{Message: msg(reason),
				Data: accountData{Name: m.Name, Role: m.Role, TwoFactor: true}})
			return
		}
	default:
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	op := u.operator("")
	err = c.cfg.Sessions.SetTOTP(r.Context(), m.Name, secret, u.IDHash, store.AuditEntry{At: time.Now(), Who: op.Who, What: what,
		Subject: m.Name, Source: "manual"})
	if errors.Is(err, store.ErrNotFound) {
		c.refuse(w, r, http.StatusNotFound, "not_found")
		return
	}
	if err == nil && step > 0 {
		_, err = c.cfg.Sessions.UseTOTPStep(r.Context(), m.Name, step) // the code that turned it on is spent
	}
	if err != nil {
		c.failed(w, r, err)
		return
	}
	redirect(w, r, "/admin/account", done)
}

// passwordAgain checks the password a form repeats for m, within the
// sign-in limits (a failure counts like a failed sign-in); it answers the
// request and reports false when it does not match.
func (c accountPages) passwordAgain(w http.ResponseWriter, r *http.Request, m store.Moderator) bool {
	wait, done := c.logins.reserve(m.Name, c.clientAddr(r), now())
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		c.render(w, r, http.StatusTooManyRequests, "error", nil, page{Message: msg("locked_out")})
		return false
	}
	ok, err := c.cfg.Accounts.authenticate(r.Context(), m, true, r.PostFormValue("password"))
	switch {
	case errors.Is(err, errBusy):
		done(notTried)
		c.busy(w, r)
		return false
	case err != nil:
		done(notTried)
		c.failed(w, r, err)
		return false
	case !ok:
		done(failedAttempt)
		c.cfg.Log.Warn("console password check failed", "name", m.Name, "from", c.clientAddr(r))
		c.render(w, r, http.StatusUnauthorized, "error", nil, page{Message: msg("bad_password")})
		return false
	}
	done(succeeded)
	return true
}
