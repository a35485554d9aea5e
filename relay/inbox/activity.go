package inbox

import (
	"encoding/json"
	"errors"
	"fmt"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/trust"
)

// Errors of Parse; both mean 400.
var (
	// errInvalidJSON: the body is not a JSON object.
	errInvalidJSON = errors.New("invalid JSON")
	// ErrNotActivity: the body is JSON but not an activity the relay can use.
	ErrNotActivity = errors.New("not an activity")
)

// Activity is an activity received at the inbox. The original bytes are
// kept: go-ap/activitypub drops properties it does not know, so anything
// forwarded is forwarded from raw, never re-marshalled.
type Activity struct {
	// Raw is the body as received; Act its parse by go-ap.
	Raw  []byte
	Act  *vocab.Activity
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
	// Audience holds the other IRIs of to, cc and audience.
	Audience []string
	// Embedded: carries an LD signature or an FEP-8b32 proof, so it must be
	// forwarded byte for byte.
	Embedded bool
	// Hops is how many relays the activity has crossed, as the sending
	// relay's Announce says (0 from a server).
	Hops int
	// Via is the peer of the relay that forwarded an author's Update or
	// Delete, signed with its own key; "" when the sender is the actor's
	// own server. viaActor is that relay's actor.
	Via      string
	ViaActor string
	// Decision is what the moderation rules say of the sender.
	Decision policy.Decision
	// facts are what moderation filters look at, read once.
	facts *policy.Facts
	// from is the client address the request came from: key fetches it
	// causes are charged to it.
	from string
	// verified is set once the signature verified for the actor.
	verified bool
	// newPin, set when the verified key's id was never pinned, is pinned
	// for pinPeer once the activity is accepted.
	newPin  *trust.Key
	pinPeer string
}

// envelope holds what go-ap/activitypub does not model (signature,
// proof) or models lossily: it drops compact IRIs such as "as:Public"
// inside arrays, so addressing is read from here.
type envelope struct {
	ID        json.RawMessage `json:"id"`
	Type      json.RawMessage `json:"type"`
	Actor     json.RawMessage `json:"actor"`
	Object    json.RawMessage `json:"object"`
	To        json.RawMessage `json:"to"`
	CC        json.RawMessage `json:"cc"`
	Audience  json.RawMessage `json:"audience"`
	Signature json.RawMessage `json:"signature"`
	Proof     json.RawMessage `json:"proof"`
	Hops      json.RawMessage `json:"https://w3id.org/runrig/ns#hops"`
}

// IRIs reads a JSON-LD value that is an IRI, an object with an id, or an
// array of those.
func IRIs(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var o struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &o) == nil && o.ID != "" {
		return []string{o.ID}
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	var out []string
	for _, a := range arr {
		out = append(out, IRIs(a)...)
	}
	return out
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

// Parse parses an inbox body. Errors wrap errInvalidJSON or
// ErrNotActivity. A panic in the decoder (go-ap/activitypub on input it
// does not expect) is turned into ErrNotActivity: nothing a peer sends may
// take the relay down.
func Parse(body []byte) (in *Activity, err error) {
	defer func() {
		if p := recover(); p != nil {
			in, err = nil, fmt.Errorf("%w: undecodable (%v)", ErrNotActivity, p)
		}
	}()
	if err := checkJSONKeys(body); err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalidJSON, err)
	}
	in = &Activity{Raw: body, Embedded: len(env.Signature) > 0 && string(env.Signature) != "null" ||
		len(env.Proof) > 0 && string(env.Proof) != "null"}
	if len(env.Type) == 0 {
		return nil, fmt.Errorf("%w: no type", ErrNotActivity)
	}
	if len(env.Actor) == 0 {
		return nil, fmt.Errorf("%w: no actor", ErrNotActivity)
	}
	if len(env.ID) == 0 {
		return nil, fmt.Errorf("%w: no id", ErrNotActivity)
	}
	if in.Hops, err = parseHops(env.Hops); err != nil {
		return nil, err
	}
	it, err := vocab.UnmarshalJSON(body)
	if err != nil || it == nil {
		return nil, fmt.Errorf("%w: %v", ErrNotActivity, err)
	}
	if nonActivityTypes[it.GetType()] {
		return nil, fmt.Errorf("%w: type %s", ErrNotActivity, it.GetType())
	}
	err = vocab.OnActivity(it, func(a *vocab.Activity) error {
		in.Act = a
		return nil
	})
	if err != nil || in.Act == nil {
		return nil, fmt.Errorf("%w: %v", ErrNotActivity, err)
	}
	a := in.Act
	in.ID, in.Type = a.ID.String(), a.Type
	if a.Actor != nil {
		in.Actor = a.Actor.GetLink().String()
	}
	if ids := IRIs(env.Object); len(ids) == 1 {
		in.ObjectID = ids[0]
	}
	if a.Object != nil && a.Object.IsObject() {
		in.ObjectType = a.Object.GetType()
	}
	if in.Peer, err = policy.PeerOf(in.Actor); err != nil {
		return nil, fmt.Errorf("%w: actor: %v", ErrNotActivity, err)
	}
	if !policy.SameHost(in.ID, in.Actor) {
		return nil, fmt.Errorf("%w: id %s is not on the actor's host", ErrNotActivity, in.ID)
	}
	for _, raw := range []json.RawMessage{env.To, env.CC, env.Audience} {
		for _, iri := range IRIs(raw) {
			if IsPublic(iri) {
				in.Public = true
			} else if len(in.Audience) < maxAudience {
				in.Audience = append(in.Audience, iri)
			}
		}
	}
	return in, nil
}

// maxAudience bounds the addressees an inbound activity keeps.
const maxAudience = 64

func IsPublic(iri string) bool {
	return iri == asjson.Public || iri == "Public" || iri == "as:Public"
}

// innerObject returns the activity embedded as this activity's object (the
// Follow of an Undo or Accept), or nil when the object is only an IRI.
func (in *Activity) InnerObject() *vocab.Activity {
	var inner *vocab.Activity
	if in.Act.Object != nil && in.Act.Object.IsObject() {
		vocab.OnActivity(in.Act.Object, func(a *vocab.Activity) error { inner = a; return nil })
	}
	return inner
}

// Hops of relays' Announces.
const (
	// HopsProperty carries, in a relay's Announce, how many relays the
	// activity has crossed. It is a full IRI so that it needs no context.
	HopsProperty = "https://w3id.org/runrig/ns#hops"
	// maxHopsValue bounds the hop count a peer may claim.
	maxHopsValue = 1000
)

// parseHops reads the hop count a relay's Announce carries (0 when
// absent).
func parseHops(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 || n > maxHopsValue {
		return 0, fmt.Errorf("%w: %s must be an integer from 0 to %d", ErrNotActivity, HopsProperty, maxHopsValue)
	}
	return n, nil
}
