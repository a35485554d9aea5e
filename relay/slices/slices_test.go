package slices

import (
	"fmt"
	"testing"

	"github.com/runrig/runrig/relay/store"
)

func TestSlices(t *testing.T) {
	s := New("https://relay.example", "https://relay.example/actor", []Region{{Code: "it-bg"}})
	if got := fmt.Sprint(s.Names()); got != "[directory offers requests surplus region-it-bg]" {
		t.Errorf("Names = %s", got)
	}
	for _, tc := range []struct {
		iri   string
		name  string
		known bool
	}{
		{"https://relay.example/actor", "", true},
		{"https://relay.example/actors/surplus", "surplus", true},
		{"https://relay.example/actors/region-it-mi", "region-it-mi", false},
		{"https://other.example/actors/surplus", "", false},
	} {
		if name, known := s.OfActor(tc.iri); name != tc.name || known != tc.known {
			t.Errorf("OfActor(%s) = %q, %v", tc.iri, name, known)
		}
	}
	if s.Actor("") != "https://relay.example/actor" || s.KeyID("offers") != "https://relay.example/actors/offers#main-key" || s.KeyID("") != "" {
		t.Errorf("Actor/KeyID: %s %s", s.Actor(""), s.KeyID("offers"))
	}
	if got := fmt.Sprint(s.Of(&store.ListingRecord{Kind: "surplus", Regions: []string{"it-bg", "it-mi"}})); got != "[surplus region-it-bg]" {
		t.Errorf("Of = %s", got)
	}
	if !s.Known("") || !s.Known("region-it-bg") || s.Known("region-it-mi") {
		t.Error("Known")
	}
	if s.Summary("region-it-bg") == "" || s.Summary("surplus") == "" {
		t.Error("Summary")
	}
}
