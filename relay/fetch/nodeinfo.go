package fetch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/runrig/runrig/policy"
)

// Software fetches the NodeInfo of the server at baseURL (scheme and
// authority) and returns "name version", e.g. "mastodon 4.3.2".
func (c *Client) Software(ctx context.Context, baseURL string) (string, error) {
	body, err := c.Get(ctx, strings.TrimSuffix(baseURL, "/")+"/.well-known/nodeinfo")
	if err != nil {
		return "", err
	}
	var idx struct {
		Links []struct {
			Rel  string `json:"rel"`
			Href string `json:"href"`
		} `json:"links"`
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		return "", fmt.Errorf("nodeinfo index: %w", err)
	}
	href := ""
	for _, l := range idx.Links {
		if strings.HasPrefix(l.Rel, "http://nodeinfo.diaspora.software/ns/schema/") {
			href = l.Href // the last listed is usually the newest schema
		}
	}
	if href == "" || !policy.SameHost(href, baseURL) {
		return "", fmt.Errorf("nodeinfo index: no usable link")
	}
	body, err = c.Get(ctx, href)
	if err != nil {
		return "", err
	}
	var ni struct {
		Software struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"software"`
	}
	if err := json.Unmarshal(body, &ni); err != nil {
		return "", fmt.Errorf("nodeinfo: %w", err)
	}
	s := strings.TrimSpace(ni.Software.Name + " " + ni.Software.Version)
	if len(s) > 100 {
		s = s[:100]
	}
	return s, nil
}
