// Package asjson writes the ActivityStreams JSON documents of the relay:
// its contexts, the public collection, and the content types it answers
// with.
package asjson

import (
	"encoding/json"
	"net/http"
	"strings"

	vocab "github.com/go-ap/activitypub"
)

// Content types and addresses of ActivityPub documents.
const (
	contentTypeAS = "application/activity+json"
	contentTypeLD = `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`
	// Public is the public collection, as:Public.
	Public = "https://www.w3.org/ns/activitystreams#Public"
)

// Contexts are the JSON-LD contexts of the documents the relay writes.
var Contexts = []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"}

// Write writes doc as an ActivityStreams document in the content type
// the client asked for.
func Write(w http.ResponseWriter, r *http.Request, doc []byte) {
	ct := contentTypeAS
	if strings.Contains(r.Header.Get("Accept"), "application/ld+json") {
		ct = contentTypeLD
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Vary", "Accept")
	w.Write(doc)
}

// Marshal marshals an item with go-ap/activitypub and adds the JSON-LD
// context (set here rather than through jsonld.WithContext, which writes a
// package global).
func Marshal(it vocab.Item) ([]byte, error) {
	b, err := vocab.MarshalJSON(it)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["@context"], _ = json.Marshal(Contexts)
	return json.Marshal(m)
}
