package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// testAccounts: console accounts are unique by name, a setup token works
// once and only before it expires, sessions expire when idle, a reset or a
// removal ends every session, and each change to an account is audited.
func testAccounts(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	defer db.Close()
	a := db.Accounts()
	now := time.Now().Truncate(time.Millisecond)
	audit := func(what string) store.AuditEntry {
		return store.AuditEntry{At: now, Who: "op", What: what, Subject: "ana", Source: "manual"}
	}
	m := store.Moderator{Name: "ana", Role: store.RoleModerator, CreatedAt: now}
	if err := a.AddModerator(ctx, m, store.SetupToken{Hash: "h1", Expires: now.Add(time.Hour)}, audit("moderator.add")); err != nil {
		t.Fatal(err)
	}
	if err := a.AddModerator(ctx, m, store.SetupToken{Hash: "h2", Expires: now.Add(time.Hour)}, audit("moderator.add")); !errors.Is(err, store.ErrExists) {
		t.Errorf("second AddModerator: %v, want ErrExists", err)
	}
	if _, err := a.CompleteSetup(ctx, "h1", "hash", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired setup token: %v, want ErrNotFound", err)
	}
	if name, err := a.CompleteSetup(ctx, "h1", "hash", now); err != nil || name != "ana" {
		t.Fatalf("CompleteSetup = %q, %v", name, err)
	}
	if _, err := a.CompleteSetup(ctx, "h1", "other", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("spent setup token: %v, want ErrNotFound", err)
	}
	if got, err := a.Moderator(ctx, "ana"); err != nil || got.PasswordHash != "hash" || got.Role != store.RoleModerator {
		t.Errorf("Moderator = %+v, %v", got, err)
	}

	s := store.Session{IDHash: "s1", Name: "ana", CSRF: "c", CreatedAt: now, LastSeen: now}
	if err := a.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateSession(ctx, store.Session{IDHash: "s9", Name: "nobody", CreatedAt: now, LastSeen: now}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of an unknown moderator: %v, want ErrNotFound", err)
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
	if err := a.RemoveModerator(ctx, "ana", audit("moderator.remove")); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveModerator(ctx, "ana", audit("moderator.remove")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second remove: %v, want ErrNotFound", err)
	}
	if _, err := a.CompleteSetup(ctx, "h3", "hash", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("setup token of a removed moderator: %v, want ErrNotFound", err)
	}
	entries, err := db.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var whats []string
	for _, e := range entries {
		whats = append(whats, e.What)
	}
	if len(whats) != 3 || whats[0] != "moderator.add" || whats[1] != "moderator.reset" || whats[2] != "moderator.remove" {
		t.Errorf("audit = %v, want add, reset, remove (a refused change audits nothing)", whats)
	}
}
