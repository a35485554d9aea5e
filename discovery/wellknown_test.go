package discovery

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestParseAcct(t *testing.T) {
	tests := []struct {
		in         string
		user, host string
		err        bool
	}{
		{"acct:relay@relay.example", "relay", "relay.example", false},
		{"relay@Relay.Example", "relay", "relay.example", false},
		{"acct:relay@127.0.0.1:8080", "relay", "127.0.0.1:8080", false},
		{"acct:relay", "", "", true},
		{"https://relay.example/actor", "", "", true},
		{"acct:@relay.example", "", "", true},
	}
	for _, tt := range tests {
		u, h, err := ParseAcct(tt.in)
		if (err != nil) != tt.err || u != tt.user || h != tt.host {
			t.Errorf("ParseAcct(%q) = %q, %q, %v", tt.in, u, h, err)
		}
	}
}

func TestHostMetaIsXRD(t *testing.T) {
	b := HostMeta("https://relay.example")
	var doc struct {
		Link struct {
			Template string `xml:"template,attr"`
		} `xml:"Link"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.Link.Template, "https://relay.example/.well-known/webfinger?resource=") {
		t.Fatalf("template = %q", doc.Link.Template)
	}
}
