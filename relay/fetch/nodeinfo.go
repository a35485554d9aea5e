package fetch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/runrig/runrig/policy"
)

// Software fetches the NodeInfo of the server at baseURL (scheme and
// authority) and returns "name version", e.g. "mastodon 4.3.2".
func (c *Client) Software(ctx context.Context, baseURL string) (string, error) {
	body, err := c.Get(ctx, strings.TrimSuffix(baseURL, "/")+"/.well-known/nodeinfo")
	if err != nil {
		return "", err
	}
	href, err := NodeInfoLink(body, baseURL)
	if err != nil {
		return "", err
	}
	if body, err = c.Get(ctx, href); err != nil {
		return "", err
	}
	return SoftwareOf(body)
}

// NodeInfoLink reads a /.well-known/nodeinfo index and returns the link
// to the newest schema it lists, which must be on baseURL's host.
func NodeInfoLink(index []byte, baseURL string) (string, error) {
	var idx struct {
		Links []struct {
			Rel  string `json:"rel"`
			Href string `json:"href"`
		} `json:"links"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
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
	return href, nil
}

// maxSoftware bounds the software name and version kept, in bytes.
const maxSoftware = 100

// SoftwareOf reads a NodeInfo document and returns "name version", without
// control characters (it reaches operators' terminals) and at most
// maxSoftware bytes of whole characters.
func SoftwareOf(nodeinfo []byte) (string, error) {
	var ni struct {
		Software struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"software"`
	}
	if err := json.Unmarshal(nodeinfo, &ni); err != nil {
		return "", fmt.Errorf("nodeinfo: %w", err)
	}
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, ni.Software.Name+" "+ni.Software.Version)
	s = strings.TrimSpace(s)
	for len(s) > maxSoftware {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s, nil
}
