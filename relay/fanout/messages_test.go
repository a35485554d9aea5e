package fanout

import (
	"encoding/json"
	"fmt"
	"testing"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/relay/inbox"
)

func TestReannounced(t *testing.T) {
	tests := []struct {
		typ      vocab.ActivityVocabularyType
		embedded bool
		want     bool
	}{
		{vocab.CreateType, false, true},
		{vocab.AnnounceType, false, true},
		{vocab.CreateType, true, false}, // signed body: forwarded byte for byte
		{vocab.UpdateType, false, false},
		{vocab.DeleteType, false, false},
		{vocab.MoveType, false, false},
	}
	for _, tt := range tests {
		in := &inbox.Activity{Type: tt.typ, Embedded: tt.embedded}
		if got := reannounced(in); got != tt.want {
			t.Errorf("reannounced(%s, embedded %v) = %v, want %v", tt.typ, tt.embedded, got, tt.want)
		}
	}
}

func TestWithHops(t *testing.T) {
	for _, hops := range []int{1, 3} {
		body, err := withHops([]byte(`{"type":"Announce","object":"https://a.example/1"}`), hops)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		if m[inbox.HopsProperty] != float64(hops) || m["object"] != "https://a.example/1" {
			t.Errorf("withHops(%d) = %s", hops, body)
		}
	}
	if _, err := withHops([]byte(`[1]`), 1); err == nil {
		t.Error("withHops of a non-object: no error")
	}
}

func TestUnion(t *testing.T) {
	tests := []struct{ a, b, want []string }{
		{nil, nil, nil},
		{[]string{"offers"}, nil, []string{"offers"}},
		{[]string{"offers", "region-it"}, []string{"region-it", "surplus"}, []string{"offers", "region-it", "surplus"}},
	}
	for _, tt := range tests {
		if got := union(tt.a, tt.b); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("union(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
