package fetch

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/trust"
)

// Actor is what the relay needs to know of a remote actor.
type Actor struct {
	ID                string
	Type              string
	Inbox             string
	SharedInbox       string
	Followers         string
	PreferredUsername string
	Keys              []trust.Key
	// Signs are the ways of signing requests the actor's server says it
	// takes beyond draft-cavage (FEP-844e generator.implements).
	Signs []httpsig.Kind
}

// DeliveryInbox is the inbox the relay delivers to: the shared inbox when
// the actor has one, else its own inbox.
func (a Actor) DeliveryInbox() string {
	if a.SharedInbox != "" {
		return a.SharedInbox
	}
	return a.Inbox
}

// actorDoc is the wire form. publicKey may be one object or an array, which
// go-ap/activitypub does not decode.
type actorDoc struct {
	ID                string          `json:"id"`
	Type              json.RawMessage `json:"type"`
	Inbox             string          `json:"inbox"`
	Followers         string          `json:"followers"`
	PreferredUsername string          `json:"preferredUsername"`
	Endpoints         struct {
		SharedInbox string `json:"sharedInbox"`
	} `json:"endpoints"`
	PublicKey       json.RawMessage `json:"publicKey"`
	AssertionMethod json.RawMessage `json:"assertionMethod"`
	Generator       json.RawMessage `json:"generator"`
	Owner           string          `json:"owner"`
	PublicKeyPem    string          `json:"publicKeyPem"`
}

type keyDoc struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	PublicKeyPem string `json:"publicKeyPem"`
}

// Actor fetches the actor with IRI iri, from the cache when fresh.
func (c *Client) Actor(ctx context.Context, iri string) (Actor, error) {
	if a, ok := c.actors.get(iri); ok {
		return a, nil
	}
	body, err := c.Get(ctx, iri)
	if err != nil {
		return Actor{}, err
	}
	a, err := ParseActor(body, iri)
	if err != nil {
		return Actor{}, err
	}
	c.actors.put(a)
	c.learn(a)
	return a, nil
}

// FEP-844e identifiers of the signatures a server implements.
const (
	implementsRFC9421 = "https://datatracker.ietf.org/doc/html/rfc9421"
	implementsEd25519 = "https://datatracker.ietf.org/doc/html/rfc9421#name-eddsa-using-curve-edwards25"
)

// implementedSignatures reads generator.implements (FEP-844e): the kinds
// of signature, beyond draft-cavage, the actor's server takes.
func implementedSignatures(raw json.RawMessage) []httpsig.Kind {
	var gen struct {
		Implements []struct {
			Href string `json:"href"`
		} `json:"implements"`
	}
	if json.Unmarshal(raw, &gen) != nil {
		return nil
	}
	var out []httpsig.Kind
	for _, imp := range gen.Implements {
		switch imp.Href {
		case implementsRFC9421:
			out = append(out, httpsig.KindRFC9421)
		case implementsEd25519:
			out = append(out, httpsig.KindEd25519)
		}
	}
	return out
}

// learn tells the scheme memory what an actor says its server takes.
func (c *Client) learn(a Actor) {
	if c.schemes == nil || len(a.Signs) == 0 {
		return
	}
	host, err := policy.PeerOf(a.ID)
	if err != nil {
		return
	}
	for _, k := range a.Signs {
		c.schemes.Learn(host, k)
	}
}

// FetchKey fetches the key keyID. The document at keyID without its
// fragment is a key object, a full actor (Mastodon's `actor#main-key`) or a
// minimal actor that carries only id and publicKey (GoToSocial's
// `/users/NAME/main-key`). It is read as a key only: an actor enters the
// cache only when fetched by its own id, so a minimal document never stands
// in for the actor whose inbox the relay delivers to. It implements
// [trust.KeyFetcher].
func (c *Client) FetchKey(ctx context.Context, keyID string) (trust.Key, error) {
	docURL, _, _ := strings.Cut(keyID, "#")
	body, err := c.Get(ctx, docURL)
	if err != nil {
		return trust.Key{}, err
	}
	k, err := ParseKey(body, keyID)
	if err != nil {
		return trust.Key{}, err
	}
	if a, err := ParseActor(body, docURL); err == nil && a.ID == docURL {
		c.actors.put(a) // fetched by the actor's id: the actor itself
		c.learn(a)
	}
	return k, nil
}

// ParseKey reads the key keyID from the document served at keyID: a key
// object (top-level publicKeyPem) or an actor, full or minimal, listing it
// under publicKey. The key and its owner must be on keyID's host.
func ParseKey(body []byte, keyID string) (trust.Key, error) {
	var d actorDoc
	if err := json.Unmarshal(body, &d); err != nil {
		return trust.Key{}, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	if d.PublicKeyPem != "" { // a key object
		k, err := parseKey(keyDoc{ID: d.ID, Owner: d.Owner, PublicKeyPem: d.PublicKeyPem})
		if err != nil {
			return trust.Key{}, err
		}
		if k.ID != keyID || !policy.SameHost(k.Owner, keyID) {
			return trust.Key{}, fmt.Errorf("%w: key %q owned by %q", ErrForeignID, k.ID, k.Owner)
		}
		return k, nil
	}
	if d.ID == "" || !policy.SameHost(d.ID, keyID) {
		return trust.Key{}, fmt.Errorf("%w: document %q served for key %s", ErrForeignID, d.ID, keyID)
	}
	keys, err := publicKeys(d.PublicKey)
	if err != nil {
		return trust.Key{}, err
	}
	for _, kd := range keys {
		if kd.ID != keyID {
			continue
		}
		if kd.Owner == "" {
			kd.Owner = d.ID
		}
		if kd.Owner != d.ID {
			return trust.Key{}, fmt.Errorf("%w: key %s owned by %q, served in %q", ErrForeignID, keyID, kd.Owner, d.ID)
		}
		return parseKey(kd)
	}
	// An Ed25519 key (FEP-521a) signs RFC 9421 requests too.
	if k, ok, err := assertionKey(d.AssertionMethod, d.ID, keyID); ok || err != nil {
		return trust.Key{ID: k.ID, Owner: k.Controller, Public: k.Public}, err
	}
	return trust.Key{}, fmt.Errorf("%w: %s", ErrNoKey, keyID)
}

// ParseActor parses an actor document fetched from fetchedFrom, checking
// that its id and inbox are on the same origin.
func ParseActor(body []byte, fetchedFrom string) (Actor, error) {
	var d actorDoc
	if err := json.Unmarshal(body, &d); err != nil {
		return Actor{}, fmt.Errorf("%w: %v", ErrNotActor, err)
	}
	if d.ID == "" || d.Inbox == "" {
		return Actor{}, fmt.Errorf("%w: id and inbox are required", ErrNotActor)
	}
	if !policy.SameHost(d.ID, fetchedFrom) {
		return Actor{}, fmt.Errorf("%w: %s fetched from %s", ErrForeignID, d.ID, fetchedFrom)
	}
	if !policy.SameHost(d.Inbox, d.ID) ||
		(d.Endpoints.SharedInbox != "" && !policy.SameHost(d.Endpoints.SharedInbox, d.ID)) {
		return Actor{}, fmt.Errorf("%w: inbox of %s on another host", ErrForeignID, d.ID)
	}
	a := Actor{
		ID: d.ID, Type: firstString(d.Type), Inbox: d.Inbox,
		SharedInbox: d.Endpoints.SharedInbox, PreferredUsername: d.PreferredUsername,
		Signs: implementedSignatures(d.Generator),
	}
	if d.Followers != "" && policy.SameHost(d.Followers, d.ID) {
		a.Followers = d.Followers
	}
	keys, err := publicKeys(d.PublicKey)
	if err != nil {
		return Actor{}, err
	}
	for _, kd := range keys {
		if kd.Owner == "" {
			kd.Owner = d.ID
		}
		if kd.Owner != d.ID {
			continue
		}
		k, err := parseKey(kd)
		if err != nil {
			continue
		}
		a.Keys = append(a.Keys, k)
	}
	return a, nil
}

// publicKeys decodes an actor's publicKey: absent, one object or an array.
func publicKeys(raw json.RawMessage) ([]keyDoc, error) {
	pk := bytes.TrimSpace(raw)
	switch {
	case len(pk) == 0 || bytes.Equal(pk, []byte("null")):
		return nil, nil
	case pk[0] == '[':
		var keys []keyDoc
		if err := json.Unmarshal(pk, &keys); err != nil {
			return nil, fmt.Errorf("%w: publicKey: %v", ErrNotActor, err)
		}
		return keys, nil
	}
	var k keyDoc
	if err := json.Unmarshal(pk, &k); err != nil {
		return nil, fmt.Errorf("%w: publicKey: %v", ErrNotActor, err)
	}
	return []keyDoc{k}, nil
}

func parseKey(kd keyDoc) (trust.Key, error) {
	block, _ := pem.Decode([]byte(kd.PublicKeyPem))
	if block == nil {
		return trust.Key{}, fmt.Errorf("%w: %s: no PEM block", ErrNoKey, kd.ID)
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return trust.Key{}, fmt.Errorf("%w: %s: %v", ErrNoKey, kd.ID, err)
	}
	return trust.Key{ID: kd.ID, Owner: kd.Owner, Public: pub}, nil
}

func firstString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil && len(ss) > 0 {
		return ss[0]
	}
	return ""
}

// actorCache is a bounded, expiring cache of actors by id.
type actorCache struct {
	max int
	ttl time.Duration

	// mu guards the following fields.
	mu sync.Mutex
	m  map[string]cachedActor
}

type cachedActor struct {
	a  Actor
	at time.Time
}

func newActorCache(max int, ttl time.Duration) *actorCache {
	return &actorCache{max: max, ttl: ttl, m: map[string]cachedActor{}}
}

func (c *actorCache) get(id string) (Actor, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || time.Since(e.at) > c.ttl {
		return Actor{}, false
	}
	return e.a, true
}

func (c *actorCache) put(a Actor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for id := range c.m { // evict an arbitrary entry
			delete(c.m, id)
			break
		}
	}
	c.m[a.ID] = cachedActor{a: a, at: time.Now()}
}
