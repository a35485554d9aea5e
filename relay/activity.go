package relay

import (
	"encoding/json"
	"errors"
	"fmt"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
)

// errNotActivity: the body is JSON but not an activity the relay can use.
var errNotActivity = errors.New("not an activity")

// inbound is an activity received at the inbox. The original bytes are
// kept: go-ap/activitypub drops properties it does not know, so anything
// forwarded is forwarded from raw, never re-marshalled.
type inbound struct {
	raw  []byte
	act  *vocab.Activity
	ID   string
	Type vocab.ActivityVocabularyType
	// Actor is the actor's IRI and Peer its authority.
	Actor string
	Peer  string
	// ObjectID is the object's id (or IRI) and ObjectType its type when
	// embedded.
	ObjectID   string
	ObjectType vocab.ActivityVocabularyType
	// Public: addressed to as:Public.
	Public bool
	// Embedded: carries an LD signature or an FEP-8b32 proof, so it must be
	// forwarded byte for byte.
	Embedded bool
}

// envelope holds the properties go-ap/activitypub does not model.
type envelope struct {
	ID        json.RawMessage `json:"id"`
	Type      json.RawMessage `json:"type"`
	Actor     json.RawMessage `json:"actor"`
	Signature json.RawMessage `json:"signature"`
	Proof     json.RawMessage `json:"proof"`
}

var nonActivityTypes = func() map[vocab.ActivityVocabularyType]bool {
	m := map[vocab.ActivityVocabularyType]bool{}
	for _, t := range append(append(vocab.ObjectTypes, vocab.ActorTypes...), vocab.CollectionManagementActivityTypes...) {
		m[t] = true
	}
	for _, t := range vocab.CollectionTypes {
		m[t] = true
	}
	delete(m, vocab.AddType)
	delete(m, vocab.RemoveType)
	return m
}()

// parseInbound parses an inbox body. Errors wrap errNotActivity or are JSON
// syntax errors; both mean 400.
func parseInbound(body []byte) (*inbound, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	in := &inbound{raw: body, Embedded: len(env.Signature) > 0 && string(env.Signature) != "null" ||
		len(env.Proof) > 0 && string(env.Proof) != "null"}
	if len(env.Type) == 0 {
		return nil, fmt.Errorf("%w: no type", errNotActivity)
	}
	if len(env.Actor) == 0 {
		return nil, fmt.Errorf("%w: no actor", errNotActivity)
	}
	if len(env.ID) == 0 {
		return nil, fmt.Errorf("%w: no id", errNotActivity)
	}
	it, err := vocab.UnmarshalJSON(body)
	if err != nil || it == nil {
		return nil, fmt.Errorf("%w: %v", errNotActivity, err)
	}
	if nonActivityTypes[it.GetType()] {
		return nil, fmt.Errorf("%w: type %s", errNotActivity, it.GetType())
	}
	err = vocab.OnActivity(it, func(a *vocab.Activity) error {
		in.act = a
		return nil
	})
	if err != nil || in.act == nil {
		return nil, fmt.Errorf("%w: %v", errNotActivity, err)
	}
	a := in.act
	in.ID, in.Type = a.ID.String(), a.Type
	if a.Actor != nil {
		in.Actor = a.Actor.GetLink().String()
	}
	if a.Object != nil {
		in.ObjectID = a.Object.GetLink().String()
		if a.Object.IsObject() {
			in.ObjectType = a.Object.GetType()
		}
	}
	if in.Peer, err = policy.PeerOf(in.Actor); err != nil {
		return nil, fmt.Errorf("%w: actor: %v", errNotActivity, err)
	}
	if !policy.SameHost(in.ID, in.Actor) {
		return nil, fmt.Errorf("%w: id %s is not on the actor's host", errNotActivity, in.ID)
	}
	for _, rc := range []vocab.ItemCollection{a.To, a.CC, a.Audience} {
		for _, r := range rc {
			if isPublic(r.GetLink().String()) {
				in.Public = true
			}
		}
	}
	return in, nil
}

func isPublic(iri string) bool {
	return iri == asPublic || iri == "Public" || iri == "as:Public"
}

// innerObject returns the activity embedded as this activity's object (the
// Follow of an Undo or Accept), or nil when the object is only an IRI.
func (in *inbound) innerObject() *vocab.Activity {
	var inner *vocab.Activity
	if in.act.Object != nil && in.act.Object.IsObject() {
		vocab.OnActivity(in.act.Object, func(a *vocab.Activity) error { inner = a; return nil })
	}
	return inner
}
