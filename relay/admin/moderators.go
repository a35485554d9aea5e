package admin

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Moderator is a console account, as the admin API shows it.
type Moderator struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Active is set once the moderator chose a password.
	Active  bool      `json:"active"`
	Created time.Time `json:"created"`
}

// AddModerator asks for a new console account.
type AddModerator struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// SetupLink is the one-time link where a moderator chooses a password.
type SetupLink struct {
	Name    string    `json:"name"`
	Link    string    `json:"link"`
	Expires time.Time `json:"expires"`
}

// Moderators are the console's accounts, through the admin API.
type Moderators struct{ c *Client }

// Moderators returns the client of the console's accounts.
func (c *Client) Moderators() Moderators { return Moderators{c} }

// List lists the moderators.
func (m Moderators) List(ctx context.Context) ([]Moderator, error) {
	var out []Moderator
	return out, m.c.do(ctx, http.MethodGet, "/moderators", nil, &out)
}

// Add creates a moderator and returns their setup link.
func (m Moderators) Add(ctx context.Context, name, role string) (SetupLink, error) {
	var out SetupLink
	return out, m.c.do(ctx, http.MethodPost, "/moderators", AddModerator{Name: name, Role: role}, &out)
}

// Reset ends a moderator's sessions, clears the password and returns a
// new setup link.
func (m Moderators) Reset(ctx context.Context, name string) (SetupLink, error) {
	var out SetupLink
	return out, m.c.do(ctx, http.MethodPost, "/moderators/"+url.PathEscape(name)+"/reset", nil, &out)
}

// Remove deletes a moderator and ends their sessions.
func (m Moderators) Remove(ctx context.Context, name string) error {
	return m.c.do(ctx, http.MethodDelete, "/moderators/"+url.PathEscape(name), nil, nil)
}
