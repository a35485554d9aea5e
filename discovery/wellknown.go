package discovery

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/runrig/runrig/policy"
)

// JRD is a WebFinger JSON Resource Descriptor.
type JRD struct {
	Subject string   `json:"subject"`
	Aliases []string `json:"aliases,omitempty"`
	Links   []Link   `json:"links"`
}

// Link is one link of a JRD or of the NodeInfo index.
type Link struct {
	Rel  string `json:"rel"`
	Type string `json:"type,omitempty"`
	Href string `json:"href"`
}

// ActorJRD describes the actor with IRI actor and acct name user@host.
func ActorJRD(user, host, actor string) JRD {
	return JRD{
		Subject: "acct:" + user + "@" + host,
		Aliases: []string{actor},
		Links: []Link{
			{Rel: "self", Type: "application/activity+json", Href: actor},
			{Rel: "self", Type: `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`, Href: actor},
		},
	}
}

// ParseAcct splits a WebFinger resource "acct:user@host" (the "acct:"
// prefix is optional, as some clients omit it).
func ParseAcct(resource string) (user, host string, err error) {
	r := strings.TrimPrefix(resource, "acct:")
	r = strings.TrimPrefix(r, "@")
	user, host, ok := strings.Cut(r, "@")
	if !ok || user == "" || host == "" || strings.ContainsAny(r, "/?# ") {
		return "", "", fmt.Errorf("resource %q is not acct:user@host", resource)
	}
	if peer, err := policy.ParsePeer(host); err == nil {
		host = peer // one spelling: punycode, lower case, no trailing dot
	}
	return strings.ToLower(user), strings.ToLower(host), nil
}

// NodeInfoSchema is the NodeInfo version served.
const NodeInfoSchema = "http://nodeinfo.diaspora.software/ns/schema/2.1"

// NodeInfoIndex is the document at /.well-known/nodeinfo.
func NodeInfoIndex(href string) map[string][]Link {
	return map[string][]Link{"links": {{Rel: NodeInfoSchema, Href: href}}}
}

// NodeInfo is a NodeInfo 2.1 document.
type NodeInfo struct {
	Version           string         `json:"version"`
	Software          Software       `json:"software"`
	Protocols         []string       `json:"protocols"`
	Services          Services       `json:"services"`
	OpenRegistrations bool           `json:"openRegistrations"`
	Usage             Usage          `json:"usage"`
	Metadata          map[string]any `json:"metadata"`
}

// Software names the server software.
type Software struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Repository string `json:"repository,omitempty"`
	Homepage   string `json:"homepage,omitempty"`
}

// Services lists third-party services; a relay has none.
type Services struct {
	Inbound  []string `json:"inbound"`
	Outbound []string `json:"outbound"`
}

// Usage reports users; a relay has none, only subscribers (in Metadata).
type Usage struct {
	Users struct {
		Total int `json:"total"`
	} `json:"users"`
	LocalPosts int `json:"localPosts"`
}

// HostMeta is the XRD document at /.well-known/host-meta.
func HostMeta(baseURL string) []byte {
	type link struct {
		Rel      string `xml:"rel,attr"`
		Type     string `xml:"type,attr,omitempty"`
		Template string `xml:"template,attr"`
	}
	type xrd struct {
		XMLName xml.Name `xml:"XRD"`
		XMLNS   string   `xml:"xmlns,attr"`
		Link    link     `xml:"Link"`
	}
	b, _ := xml.MarshalIndent(xrd{
		XMLNS: "http://docs.oasis-open.org/ns/xri/xrd-1.0",
		Link:  link{Rel: "lrdd", Type: "application/jrd+json", Template: baseURL + "/.well-known/webfinger?resource={uri}"},
	}, "", "  ")
	return append([]byte(xml.Header), b...)
}
