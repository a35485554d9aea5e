package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Lists are the operator's acts on shared domain lists: imports,
// exports and subscriptions.
type Lists struct{ c *Client }

// Lists acts on shared domain lists.
func (c *Client) Lists() Lists { return Lists{c} }

// Import imports a list.
func (l Lists) Import(ctx context.Context, req ImportList) (Imported, error) {
	return l.ImportProgress(ctx, req, nil)
}

// ImportProgress imports a list and calls onProgress (when not nil)
// as the relay checks and writes its rows.
func (l Lists) ImportProgress(ctx context.Context, req ImportList, onProgress func(Progress)) (Imported, error) {
	var out Imported
	err := l.c.doProgress(ctx, http.MethodPost, "/lists/import", req, &out, onProgress)
	return out, err
}

// Export returns the relay's rules as Mastodon's CSV: blocks, or with
// allows the allow list.
func (l Lists) Export(ctx context.Context, allows, obfuscate bool) ([]byte, error) {
	format := "mastodon"
	if allows {
		format = "allows"
	}
	return l.c.raw(ctx, fmt.Sprintf("/lists/export?format=%s&obfuscate=%t", format, obfuscate))
}

// Subscribe follows a list.
func (l Lists) Subscribe(ctx context.Context, req ListSubscribe) (ListSubscription, error) {
	var out ListSubscription
	err := l.c.do(ctx, http.MethodPost, "/lists/subscriptions", req, &out)
	return out, err
}

// Subscriptions lists the followed lists.
func (l Lists) Subscriptions(ctx context.Context) ([]ListSubscription, error) {
	var out []ListSubscription
	err := l.c.do(ctx, http.MethodGet, "/lists/subscriptions", nil, &out)
	return out, err
}

// Unsubscribe stops following a list.
func (l Lists) Unsubscribe(ctx context.Context, name, reason string) error {
	return l.c.do(ctx, http.MethodDelete, "/lists/subscriptions/"+url.PathEscape(name)+"?reason="+url.QueryEscape(reason), nil, nil)
}

// Sync fetches a list now.
func (l Lists) Sync(ctx context.Context, name string) (Synced, error) {
	var out Synced
	err := l.c.do(ctx, http.MethodPost, "/lists/subscriptions/"+url.PathEscape(name)+"/sync", nil, &out)
	return out, err
}
