package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// testAccounts: console accounts are unique by name, a setup token works
// once and only before it expires, sessions expire when idle and are only
// made for the password just verified, a reset or a removal ends every
// session, and each change to an account is audited.
func testAccounts(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	a := db.Accounts()
	now := time.Now().Truncate(time.Millisecond)
	audit := func(what string) store.AuditEntry {
		return store.AuditEntry{At: now, Who: "op", What: what, Subject: "ana", Source: "manual"}
	}
	setup := func(tok, hash string) {
		t.Helper()
		if pending, err := a.SetupPending(ctx, tok, now); err != nil || pending != "ana" {
			t.Fatalf("SetupPending(%s) = %q, %v", tok, pending, err)
		}
		if name, err := a.CompleteSetup(ctx, tok, hash, now, audit("moderator.setup")); err != nil || name != "ana" {
			t.Fatalf("CompleteSetup = %q, %v", name, err)
		}
	}
	m := store.Moderator{Name: "ana", Role: store.RoleModerator, CreatedAt: now}
	if err := a.AddModerator(ctx, m, store.SetupToken{Hash: "h1", Expires: now.Add(time.Hour)}, audit("moderator.add")); err != nil {
		t.Fatal(err)
	}
	if err := a.AddModerator(ctx, m, store.SetupToken{Hash: "h2", Expires: now.Add(time.Hour)}, audit("moderator.add")); !errors.Is(err, store.ErrExists) {
		t.Errorf("second AddModerator: %v, want ErrExists", err)
	}
	if _, err := a.SetupPending(ctx, "h1", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired setup token pending: %v, want ErrNotFound", err)
	}
	if _, err := a.CompleteSetup(ctx, "h1", "hash", now.Add(2*time.Hour), audit("moderator.setup")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired setup token: %v, want ErrNotFound", err)
	}
	setup("h1", "hash")
	if _, err := a.CompleteSetup(ctx, "h1", "other", now, audit("moderator.setup")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("spent setup token: %v, want ErrNotFound", err)
	}
	if got, err := a.Moderator(ctx, "ana"); err != nil || got.PasswordHash != "hash" || got.Role != store.RoleModerator {
		t.Errorf("Moderator = %+v, %v", got, err)
	}

	s := store.Session{IDHash: "s1", Name: "ana", CSRF: "c", CreatedAt: now, LastSeen: now}
	if err := a.CreateSession(ctx, s, "hash"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		s    store.Session
		hash string
	}{
		{store.Session{IDHash: "s9", Name: "nobody", CreatedAt: now, LastSeen: now}, "hash"},
		{store.Session{IDHash: "s8", Name: "ana", CreatedAt: now, LastSeen: now}, "stale"}, // reset meanwhile
	} {
		if err := a.CreateSession(ctx, bad.s, bad.hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session of %s with hash %s: %v, want ErrNotFound", bad.s.Name, bad.hash, err)
		}
	}
	if got, err := a.Session(ctx, "s1", now.Add(-time.Minute)); err != nil || got.Name != "ana" || got.CSRF != "c" {
		t.Errorf("Session = %+v, %v", got, err)
	}
	if _, err := a.Session(ctx, "s1", now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("idle session: %v, want ErrNotFound", err)
	}
	if err := a.TouchSession(ctx, "s1", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(ctx, "s1", now.Add(time.Minute)); err != nil {
		t.Errorf("touched session: %v", err)
	}
	if err := a.ResetModerator(ctx, "ana", store.SetupToken{Hash: "h3", Expires: now.Add(time.Hour)}, audit("moderator.reset")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(ctx, "s1", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after reset: %v, want ErrNotFound", err)
	}
	if got, _ := a.Moderator(ctx, "ana"); got.PasswordHash != "" {
		t.Error("reset kept the password")
	}
	if err := a.CreateSession(ctx, store.Session{IDHash: "s7", Name: "ana", CreatedAt: now, LastSeen: now}, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session without a password: %v, want ErrNotFound", err)
	}
	// A new password and two sessions; a second factor turned on ends
	// every session but the one that turned it on, and a code's step is
	// spent once.
	setup("h3", "hash2")
	for _, id := range []string{"s2", "s3"} {
		if err := a.CreateSession(ctx, store.Session{IDHash: id, Name: "ana", CreatedAt: now, LastSeen: now}, "hash2"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetTOTP(ctx, "ana", "SECRET", "s2", store.AuditEntry{At: now, Who: "console:ana", What: "moderator.2fa_on", Subject: "ana"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Session(ctx, "s3", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another session outlived the second factor's change: %v", err)
	}
	if got, _ := a.Moderator(ctx, "ana"); got.TOTPSecret != "SECRET" {
		t.Errorf("second factor secret = %q", got.TOTPSecret)
	}
	for _, step := range []struct {
		n    int64
		want bool
	}{{5, true}, {5, false}, {4, false}, {6, true}} {
		if ok, err := a.UseTOTPStep(ctx, "ana", step.n); err != nil || ok != step.want {
			t.Errorf("UseTOTPStep(%d) = %v, %v; want %v", step.n, ok, err, step.want)
		}
	}
	if err := a.RemoveModerator(ctx, "ana", audit("moderator.remove")); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveModerator(ctx, "ana", audit("moderator.remove")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second remove: %v, want ErrNotFound", err)
	}
	if _, err := a.Session(ctx, "s2", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after removal: %v, want ErrNotFound", err)
	}
	var whats []string
	entries, err := db.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		whats = append(whats, e.What)
	}
	if got := strings.Join(whats, " "); got != "moderator.add moderator.setup moderator.reset moderator.setup moderator.2fa_on moderator.remove" {
		t.Errorf("audit = %s (a refused change audits nothing)", got)
	}
	found, err := db.SearchAudit(ctx, store.AuditFilter{What: "SETUP", Limit: 1})
	if err != nil || len(found) != 1 || found[0].What != "moderator.setup" || found[0].ID != entries[3].ID {
		t.Errorf("SearchAudit(setup, newest) = %+v, %v", found, err)
	}
	if found, _ := db.SearchAudit(ctx, store.AuditFilter{Since: now.Add(time.Second)}); len(found) != 0 {
		t.Errorf("SearchAudit since after every entry: %d entries", len(found))
	}
	if found, _ := db.SearchAudit(ctx, store.AuditFilter{Since: now}); len(found) != 6 {
		t.Errorf("SearchAudit since the first entry: %d entries, want 6", len(found))
	}
	// A reset clears the second factor too (a moderator who lost the app).
	bo := store.Moderator{Name: "bo", Role: store.RoleModerator, CreatedAt: now}
	if err := a.AddModerator(ctx, bo, store.SetupToken{Hash: "b1", Expires: now.Add(time.Hour)}, audit("moderator.add")); err != nil {
		t.Fatal(err)
	}
	if err := a.SetTOTP(ctx, "bo", "SECRET", "", audit("moderator.2fa_on")); err != nil {
		t.Fatal(err)
	}
	if err := a.ResetModerator(ctx, "bo", store.SetupToken{Hash: "b2", Expires: now.Add(time.Hour)}, audit("moderator.reset")); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Moderator(ctx, "bo"); got.TOTPSecret != "" {
		t.Errorf("a reset kept the second factor %q", got.TOTPSecret)
	}
	if found, _ := db.SearchAudit(ctx, store.AuditFilter{Subject: "%"}); len(found) != 0 {
		t.Errorf("SearchAudit treats %% as a wildcard: %d entries", len(found))
	}
}
