package console

import (
	"context"
	"net/http"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// checkSecondFactor checks a one-time code against m's second factor and
// spends its step; it returns the refusal ("bad_code", "code_used"), or
// "".
func (c *Console) checkSecondFactor(ctx context.Context, m store.Moderator, code string) (string, error) {
	step, ok := matchTOTP(m.TOTPSecret, code, now())
	if !ok {
		return "bad_code", nil
	}
	fresh, err := c.cfg.Sessions.UseTOTPStep(ctx, m.Name, step)
	if err != nil || fresh {
		return "", err
	}
	return "code_used", nil
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
			c.refuseOn(w, r, http.StatusBadRequest, "bad_code", "account",
				page{Data: accountData{Name: m.Name, Role: m.Role, Secret: secret, URI: totpURI(c.cfg.Name, m.Name, secret)}})
			return
		}
	case "disable":
		what, done = "moderator.2fa_off", "totp_off"
		if m.TOTPSecret == "" {
			c.refuse(w, r, http.StatusBadRequest, "bad_form")
			return
		}
		if reason, err := c.checkSecondFactor(r.Context(), m, code); err != nil {
			c.failed(w, r, err)
			return
		} else if reason != "" {
			c.refuseOn(w, r, http.StatusBadRequest, reason, "account", page{Data: accountData{Name: m.Name, Role: m.Role, TwoFactor: true}})
			return
		}
	default:
		c.refuse(w, r, http.StatusBadRequest, "bad_form")
		return
	}
	op := u.operator("")
	err = c.cfg.Sessions.SetTOTP(r.Context(), m.Name, secret, u.IDHash, store.AuditEntry{At: time.Now(), Who: op.Who, What: what,
		Subject: m.Name, Source: "manual"})
	if err == nil && step > 0 {
		_, err = c.cfg.Sessions.UseTOTPStep(r.Context(), m.Name, step) // the code that turned it on is spent
	}
	c.changed(w, r, err, "/admin/account", done)
}

// passwordAgain checks the password a form repeats for m, within the
// sign-in limits (a failure counts like a failed sign-in); it answers the
// request and reports false when it does not match.
func (c accountPages) passwordAgain(w http.ResponseWriter, r *http.Request, m store.Moderator) bool {
	settle, ok := c.checkPassword(w, r, m, true, r.PostFormValue("password"), "error", "bad_password")
	if ok {
		settle(succeeded)
	}
	return ok
}
