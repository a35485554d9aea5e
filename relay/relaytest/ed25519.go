package relaytest

import (
	"crypto/ed25519"
	"encoding/json"

	"github.com/runrig/runrig/discovery"
)

// AddEd25519 adds to an actor document what a server that signs with
// Ed25519 publishes: the key as the Multikey ACTOR#ed25519-key in
// assertionMethod (FEP-521a) and, as Mitra does (FEP-844e), a generator
// saying the server takes RFC 9421 signatures, with Ed25519 too.
func AddEd25519(doc map[string]any, actorID string, pub ed25519.PublicKey) {
	doc["assertionMethod"] = []map[string]string{{"id": actorID + "#ed25519-key", "type": "Multikey",
		"controller": actorID, "publicKeyMultibase": discovery.EncodeMultikey(pub)}}
	doc["generator"] = map[string]any{"type": "Application", "implements": []map[string]string{
		{"name": "RFC-9421: HTTP Message Signatures", "href": "https://datatracker.ietf.org/doc/html/rfc9421"},
		{"name": "RFC-9421 signatures using the Ed25519 algorithm", "href": "https://datatracker.ietf.org/doc/html/rfc9421#name-eddsa-using-curve-edwards25"},
	}}
}

// Delivered reads what a delivery to an inbox carries: its type, and the
// id of its object (given as an IRI or embedded).
func Delivered(body []byte) (typ, objectID string) {
	var doc struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	json.Unmarshal(body, &doc)
	if json.Unmarshal(doc.Object, &objectID) != nil {
		var o struct{ ID string }
		json.Unmarshal(doc.Object, &o)
		objectID = o.ID
	}
	return doc.Type, objectID
}
