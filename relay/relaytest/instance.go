// Package relaytest provides stand-ins for other people's fediverse servers
// — Mastodon, Pleroma/Akkoma, GoToSocial and Misskey instances on loopback
// HTTP with their own RSA keys — for tests and benchmarks of the relay.
// Every document they serve or send to the relay is rendered from what
// that software really serves or sends (testdata/, with its sources in
// testdata/SOURCES.md), quirks included: GoToSocial's key id without a
// fragment and the minimal actor it serves there, Misskey's system actor,
// Pleroma's /relay actor. They sign and verify with go-fed/httpsig, an
// implementation independent of the relay's own, so a bug shared by both
// sides cannot hide.
package relaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fedsig "github.com/go-fed/httpsig"
)

// Kind is the software an Instance imitates.
type Kind string

// Instance kinds and how they subscribe.
const (
	// Mastodon's instance actor (/actor) follows as:Public.
	Mastodon Kind = "mastodon"
	// Misskey's system.relay actor follows as:Public.
	Misskey Kind = "misskey"
	// Pleroma's /relay actor follows the relay actor (LitePub) and accepts
	// the relay's follow-back.
	Pleroma Kind = "pleroma"
	// GoToSocial's instance actor (/users/HOST) follows the relay actor
	// (LitePub), signs with key id /users/HOST/main-key (no fragment; a
	// minimal actor without inbox is served there), pushes its users'
	// posts signed with the instance actor's key, requires signed GETs of
	// its users, and never answers the relay's follow-back (its instance
	// actor approves followers manually).
	GoToSocial Kind = "gotosocial"
)

// Public is the ActivityStreams public collection.
const Public = "https://www.w3.org/ns/activitystreams#Public"

// Received is one request that reached the instance's inbox.
type Received struct {
	Body []byte
	// Doc is Body decoded.
	Doc map[string]any
	// SignedBy is the keyId of a valid signature (verified with
	// go-fed/httpsig, Digest and Date checked), or "".
	SignedBy string
	// VerifyErr says why the signature did not verify.
	VerifyErr string
	At        time.Time
}

// Type returns the received activity's type.
func (r Received) Type() string { s, _ := r.Doc["type"].(string); return s }

// ID returns the received activity's id.
func (r Received) ID() string { s, _ := r.Doc["id"].(string); return s }

// ObjectID returns the id of the received activity's object.
func (r Received) ObjectID() string {
	switch o := r.Doc["object"].(type) {
	case string:
		return o
	case map[string]any:
		s, _ := o["id"].(string)
		return s
	}
	return ""
}

// Instance is a fake fediverse server.
type Instance struct {
	Kind   Kind
	Server *httptest.Server
	Key    *rsa.PrivateKey
	// ActorID is the actor that subscribes to relays; KeyID its key.
	ActorID, KeyID string
	// Inbox is the actor's inbox; SharedInbox the server's.
	Inbox, SharedInbox string

	// InboxStatus is the status the inbox answers with (default 202).
	InboxStatus atomic.Int32
	// InboxDelay is how long the inbox waits before answering.
	InboxDelay atomic.Int64
	// AnswerFollowBack makes the instance Accept the relay's Follow (its
	// follow-back), as Pleroma does by default; GoToSocial leaves it
	// unanswered unless a test sets this.
	AnswerFollowBack atomic.Bool
	// ActorFetches counts GETs of the instance actor (key and actor
	// fetches by the relay).
	ActorFetches atomic.Int32

	mu       sync.Mutex
	received []Received
	relayKey map[string]*rsa.PublicKey
	hold     chan struct{} // when non-nil, inbox requests wait on it
	seq      atomic.Int64
	client   *http.Client
	onRecv   func(string, time.Time)
	objects  sync.Map // id → JSON of the listings it published, served at their ids
	noShared bool     // serve the actor without a shared inbox
}

// Config tunes an Instance.
type Config struct {
	// Key is the instance's RSA key; a new 2048-bit key when nil.
	Key *rsa.PrivateKey
	// NoSharedInbox leaves endpoints.sharedInbox out of the actor.
	NoSharedInbox bool
	// OnReceive, when set, makes the instance a light sink for
	// benchmarks: deliveries are answered at once and reported to
	// OnReceive with the id of their object, without being verified or
	// kept. Follow answers (Accept) are still kept and verified.
	OnReceive func(objectID string, at time.Time)
}

// New starts an instance of the given kind on loopback. Close it when done.
func New(kind Kind, cfg Config) (*Instance, error) {
	key := cfg.Key
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	in := &Instance{Kind: kind, Key: key, relayKey: map[string]*rsa.PublicKey{},
		client: &http.Client{Timeout: 30 * time.Second}, onRecv: cfg.OnReceive, noShared: cfg.NoSharedInbox}
	in.InboxStatus.Store(http.StatusAccepted)
	in.AnswerFollowBack.Store(kind == Pleroma)
	in.Server = httptest.NewServer(http.HandlerFunc(in.serve))
	var doc struct {
		ID, Inbox string
		Endpoints struct{ SharedInbox string }
		PublicKey struct{ ID string }
	}
	if err := json.Unmarshal(in.actorDocument(), &doc); err != nil {
		in.Server.Close()
		return nil, err
	}
	in.ActorID, in.Inbox, in.KeyID = doc.ID, doc.Inbox, doc.PublicKey.ID
	if !cfg.NoSharedInbox {
		in.SharedInbox = doc.Endpoints.SharedInbox
	}
	return in, nil
}

// vars are the placeholders every document of this instance fills.
func (in *Instance) vars(extra Vars) Vars {
	v := Vars{"ORIGIN": in.Server.URL, "HOST": in.Host(), "PUBLIC_KEY_PEM": in.pemKey(),
		"ID": in.freshID(), "PUBLISHED": time.Now().UTC().Format(time.RFC3339)}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// freshID is the unique part of a new activity id.
func (in *Instance) freshID() string {
	return fmt.Sprintf("%d-%d", time.Now().UnixNano(), in.seq.Add(1))
}

// actorDocument is the actor that subscribes to relays, as its software
// serves it.
func (in *Instance) actorDocument() []byte {
	b := mustDocument(in.Kind, "instance-actor", in.vars(nil))
	if !in.noShared {
		return b
	}
	doc := decode(b)
	delete(doc, "sharedInbox")
	if ep, ok := doc["endpoints"].(map[string]any); ok {
		delete(ep, "sharedInbox")
	}
	b, _ = json.Marshal(doc)
	return b
}

// Close stops the instance.
func (in *Instance) Close() { in.Server.Close() }

// URL returns the instance's base URL.
func (in *Instance) URL() string { return in.Server.URL }

// Host returns the instance's authority, host:port.
func (in *Instance) Host() string { return strings.TrimPrefix(in.Server.URL, "http://") }

// RotateKey replaces the instance's key; the actor document serves the new
// one from now on.
func (in *Instance) RotateKey() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.Key = k
	in.mu.Unlock()
	return nil
}

// Hold makes inbox requests wait until Release; requests whose client gave
// up meanwhile are not recorded.
func (in *Instance) Hold() {
	in.mu.Lock()
	in.hold = make(chan struct{})
	in.mu.Unlock()
}

// Release lets held inbox requests through.
func (in *Instance) Release() {
	in.mu.Lock()
	if in.hold != nil {
		close(in.hold)
		in.hold = nil
	}
	in.mu.Unlock()
}

// Received returns a copy of what reached the inbox so far.
func (in *Instance) Received() []Received {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Received(nil), in.received...)
}

// ReceivedOf returns what reached the inbox with the given type.
func (in *Instance) ReceivedOf(typ string) []Received {
	var out []Received
	for _, r := range in.Received() {
		if r.Type() == typ {
			out = append(out, r)
		}
	}
	return out
}

func (in *Instance) pemKey() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	der, _ := x509.MarshalPKIXPublicKey(&in.Key.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (in *Instance) serve(w http.ResponseWriter, r *http.Request) {
	path := func(iri string) string { u, _, _ := strings.Cut(strings.TrimPrefix(iri, in.Server.URL), "#"); return u }
	switch {
	case r.Method == http.MethodGet && r.URL.Path == path(in.ActorID):
		in.ActorFetches.Add(1)
		writeJSON(w, in.actorDocument())
	case r.Method == http.MethodGet && r.URL.Path == path(in.KeyID):
		// A key id without a fragment (GoToSocial) names its own document.
		in.ActorFetches.Add(1)
		writeJSON(w, mustDocument(in.Kind, "key", in.vars(nil)))
	case r.Method == http.MethodGet && in.hasObject(in.Server.URL+r.URL.Path):
		obj, _ := in.objects.Load(in.Server.URL + r.URL.Path)
		writeJSON(w, obj.([]byte))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/gone/"):
		http.Error(w, "gone", http.StatusGone) // deleted accounts
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/users/"):
		// The instance's users, with the instance's key. GoToSocial serves
		// them to signed GETs only.
		if in.Kind == GoToSocial && r.Header.Get("Signature") == "" {
			http.Error(w, "signed GET required", http.StatusUnauthorized)
			return
		}
		user := strings.TrimPrefix(r.URL.Path, "/users/")
		writeJSON(w, mustDocument(in.Kind, "actor", in.vars(Vars{"USER": user})))
	case r.Method == http.MethodGet && r.URL.Path == "/.well-known/nodeinfo":
		writeJSON(w, mustJSON(map[string]any{"links": []map[string]string{{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": in.Server.URL + "/nodeinfo/2.0"}}}))
	case r.Method == http.MethodGet && r.URL.Path == "/nodeinfo/2.0":
		writeJSON(w, in.nodeInfo())
	case r.Method == http.MethodPost && (r.URL.Path == "/inbox" || strings.HasSuffix(r.URL.Path, "/inbox")):
		in.serveInbox(w, r)
	default:
		http.NotFound(w, r)
	}
}

// nodeInfo is the instance's NodeInfo 2.0: GoToSocial's as captured (it
// reports no version), a minimal one of the schema for the others.
func (in *Instance) nodeInfo() []byte {
	if b, err := Document(in.Kind, "nodeinfo", in.vars(nil)); err == nil {
		return b
	}
	return mustJSON(map[string]any{"version": "2.0", "software": map[string]string{"name": string(in.Kind), "version": "1.0.0"},
		"protocols": []string{"activitypub"}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (in *Instance) hasObject(id string) bool {
	_, ok := in.objects.Load(id)
	return ok
}

func writeJSON(w http.ResponseWriter, doc []byte) {
	w.Header().Set("Content-Type", "application/activity+json")
	w.Write(doc)
}

func (in *Instance) serveInbox(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return
	}
	if in.onRecv != nil {
		var doc struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		json.Unmarshal(body, &doc)
		if doc.Type != "Accept" && doc.Type != "Reject" {
			var id string
			if json.Unmarshal(doc.Object, &id) != nil {
				var o struct{ ID string }
				json.Unmarshal(doc.Object, &o)
				id = o.ID
			}
			in.onRecv(id, time.Now())
			w.WriteHeader(http.StatusAccepted)
			return
		}
	}
	in.mu.Lock()
	hold := in.hold
	in.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return // the relay gave up (or died): nothing was acknowledged
		}
	}
	if d := time.Duration(in.InboxDelay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	status := int(in.InboxStatus.Load())
	rec := Received{Body: body, At: time.Now()}
	json.Unmarshal(body, &rec.Doc)
	rec.SignedBy, rec.VerifyErr = in.verify(r, body)
	if status >= 200 && status < 300 {
		in.mu.Lock()
		in.received = append(in.received, rec)
		in.mu.Unlock()
		if rec.Type() == "Follow" && in.AnswerFollowBack.Load() {
			go in.acceptFollowBack(rec)
		}
	}
	w.WriteHeader(status)
}

// verify checks a delivery's signature independently of the relay's code:
// go-fed/httpsig for the signature, plus the Digest and Date checks that
// library leaves to its caller.
func (in *Instance) verify(r *http.Request, body []byte) (string, string) {
	v, err := fedsig.NewVerifier(r)
	if err != nil {
		return "", err.Error()
	}
	sum := sha256.Sum256(body)
	if r.Header.Get("Digest") != "SHA-256="+base64.StdEncoding.EncodeToString(sum[:]) {
		return "", "digest mismatch"
	}
	if !strings.Contains(r.Header.Get("Signature"), "digest") {
		return "", "digest not signed"
	}
	d, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil || time.Since(d).Abs() > time.Hour {
		return "", "date outside window"
	}
	pub, err := in.fetchKey(v.KeyId())
	if err != nil {
		return "", err.Error()
	}
	if err := v.Verify(pub, fedsig.RSA_SHA256); err != nil {
		return "", err.Error()
	}
	return v.KeyId(), ""
}

func (in *Instance) fetchKey(keyID string) (*rsa.PublicKey, error) {
	in.mu.Lock()
	k := in.relayKey[keyID]
	in.mu.Unlock()
	if k != nil {
		return k, nil
	}
	actorURL, _, _ := strings.Cut(keyID, "#")
	req, _ := http.NewRequest(http.MethodGet, actorURL, nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		PublicKey struct {
			ID, Owner, PublicKeyPem string
		} `json:"publicKey"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, err
	}
	if doc.PublicKey.ID != keyID {
		return nil, fmt.Errorf("key id %q not in actor", keyID)
	}
	block, _ := pem.Decode([]byte(doc.PublicKey.PublicKeyPem))
	if block == nil {
		return nil, errors.New("no PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not RSA")
	}
	in.mu.Lock()
	in.relayKey[keyID] = rk
	in.mu.Unlock()
	return rk, nil
}

func (in *Instance) acceptFollowBack(follow Received) {
	inbox := in.relayInboxFor(follow)
	if inbox == "" {
		return
	}
	in.Post(context.Background(), inbox, in.Accept(follow))
}

// relayInboxFor finds the inbox of the actor that sent an activity.
func (in *Instance) relayInboxFor(rec Received) string {
	actor, _ := rec.Doc["actor"].(string)
	if actor == "" {
		return ""
	}
	resp, err := in.client.Get(actor)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var doc struct{ Inbox string }
	json.NewDecoder(resp.Body).Decode(&doc)
	return doc.Inbox
}

// NewID returns a fresh activity or object IRI on this instance.
func (in *Instance) NewID(kind string) string {
	return fmt.Sprintf("%s/%s/%d-%d", in.Server.URL, kind, time.Now().UnixNano(), in.seq.Add(1))
}

// Activity builds an activity of typ by actor with object, addressed to
// `to` (as:Public when nil).
func (in *Instance) Activity(typ, actor string, object any, to []string) []byte {
	if to == nil {
		to = []string{Public}
	}
	b, _ := json.Marshal(map[string]any{
		"@context": "https://www.w3.org/ns/activitystreams",
		"id":       in.NewID("activities"), "type": typ, "actor": actor, "object": object, "to": to,
	})
	return b
}

// Note builds a public Create of a Note by actor ("" for the subscribing
// actor), as the instance's software sends it. extra properties are merged
// into the activity: Mastodon's LD signature is left out (as Mastodon sends
// it in authorized-fetch mode) unless extra gives a "signature", which
// makes it an LD-signed body.
func (in *Instance) Note(actor, content string, extra map[string]any) []byte {
	if actor == "" {
		actor = in.ActorID
	}
	object := in.NewID("notes") // Misskey's note ids
	switch in.Kind {
	case GoToSocial, Mastodon:
		object = actor + "/statuses/" + in.freshID()
	case Pleroma:
		object = in.NewID("objects")
	}
	act := decode(mustDocument(in.Kind, "create", in.vars(Vars{"ACTOR": actor, "OBJECT_ID": object,
		"CONTENT": content, "SIGNATURE": "", "USER": "alice"})))
	delete(act, "signature")
	for k, v := range extra {
		act[k] = v
	}
	if obj, ok := act["object"].(map[string]any); ok {
		in.Serve(object, mustJSON(obj)) // served at its id, like a real server
	}
	return mustJSON(act)
}

// Serve makes the instance serve doc at id (an IRI on the instance).
func (in *Instance) Serve(id string, doc []byte) { in.objects.Store(id, doc) }

// fakeLDSignature stands for an RsaSignature2017 value: the relay never
// verifies LD signatures, it forwards bodies that carry one byte for byte.
const fakeLDSignature = "bm90IGEgcmVhbCBzaWduYXR1cmUsIGEgc3RhbmQtaW4="

// Delete builds the Delete of objectID by actor ("" for the subscribing
// actor) as the instance's software sends it: Mastodon's and Misskey's
// carry their author's LD signature (Mastodon signs every Delete),
// GoToSocial's names the bare object IRI, Mastodon's and Misskey's a
// Tombstone.
func (in *Instance) Delete(actor, objectID string) []byte {
	if actor == "" {
		actor = in.ActorID
	}
	return mustDocument(in.Kind, "delete", in.vars(Vars{"ACTOR": actor, "OBJECT_ID": objectID, "SIGNATURE": fakeLDSignature}))
}

// Announce builds the Announce of objectID as the instance's software
// sends it to a relay: Pleroma's /relay actor announces every public post
// to its followers; the others announce a boost by actor ("" for the
// subscribing actor), Mastodon's and Misskey's with an LD signature.
func (in *Instance) Announce(actor, objectID string) []byte {
	if actor == "" {
		actor = in.ActorID
	}
	return mustDocument(in.Kind, "announce", in.vars(Vars{"ACTOR": actor, "OBJECT_ID": objectID, "SIGNATURE": fakeLDSignature}))
}

// Accept builds the instance's Accept of a Follow its actor received (the
// relay's follow-back), as its software sends it.
func (in *Instance) Accept(follow Received) []byte {
	actor, _ := follow.Doc["actor"].(string)
	return mustDocument(in.Kind, "accept", in.vars(Vars{"FOLLOW_ID": follow.ID(), "FOLLOW_ACTOR": actor}))
}

// Follow subscribes the instance to the relay with the Follow its software
// sends and returns the Follow's id and the relay's answer status.
func (in *Instance) Follow(ctx context.Context, relayActor, relayInbox string) (string, int, error) {
	body := mustDocument(in.Kind, "follow", in.vars(Vars{"RELAY_ACTOR": relayActor}))
	var doc struct{ ID string }
	json.Unmarshal(body, &doc)
	status, _, err := in.Post(ctx, relayInbox, body)
	return doc.ID, status, err
}

// Unfollow sends its software's Undo{Follow} for followID.
func (in *Instance) Unfollow(ctx context.Context, relayActor, relayInbox, followID string) (int, error) {
	body := mustDocument(in.Kind, "undo", in.vars(Vars{"RELAY_ACTOR": relayActor, "FOLLOW_ID": followID}))
	status, _, err := in.Post(ctx, relayInbox, body)
	return status, err
}

// Post sends body to url signed with the instance actor's key, as
// fediverse servers do, and returns the status and response text.
func (in *Instance) Post(ctx context.Context, url string, body []byte) (int, string, error) {
	return in.PostWith(ctx, url, body, Signing{})
}

// Signing changes how [Instance.PostWith] signs, to make bad requests.
type Signing struct {
	// Unsigned sends no Signature header.
	Unsigned bool
	// Key signs with another key; KeyID names another key id.
	Key   *rsa.PrivateKey
	KeyID string
	// Date overrides the Date header.
	Date time.Time
	// BodyAfterSigning replaces the body after the digest was computed.
	BodyAfterSigning []byte
	// Headers overrides the signed headers.
	Headers []string
}

// PostWith is Post with signing changes.
func (in *Instance) PostWith(ctx context.Context, url string, body []byte, s Signing) (int, string, error) {
	req, err := in.SignedRequest(ctx, url, body, s)
	if err != nil {
		return 0, "", err
	}
	return in.Do(req)
}

// Do sends a request made by [Instance.SignedRequest] and returns the
// status and response text.
func (in *Instance) Do(req *http.Request) (int, string, error) {
	resp, err := in.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(text)), nil
}

// SignedRequest builds a signed POST of body to url, to send later with
// [Instance.Do] (benchmarks sign ahead so that signing is not timed).
func (in *Instance) SignedRequest(ctx context.Context, url string, body []byte, s Signing) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/activity+json")
	date := time.Now()
	if !s.Date.IsZero() {
		date = s.Date
	}
	req.Header.Set("Date", date.UTC().Format(http.TimeFormat))
	req.Header.Set("Host", req.URL.Host)
	if !s.Unsigned {
		headers := s.Headers
		if headers == nil {
			headers = []string{fedsig.RequestTarget, "host", "date", "digest", "content-type"}
		}
		signer, _, err := fedsig.NewSigner([]fedsig.Algorithm{fedsig.RSA_SHA256}, fedsig.DigestSha256, headers, fedsig.Signature, 0)
		if err != nil {
			return nil, err
		}
		in.mu.Lock()
		key := in.Key
		in.mu.Unlock()
		keyID := in.KeyID
		if s.Key != nil {
			key = s.Key
		}
		if s.KeyID != "" {
			keyID = s.KeyID
		}
		if err := signer.SignRequest(key, keyID, req, body); err != nil {
			return nil, err
		}
	}
	if s.BodyAfterSigning != nil {
		req.Body = io.NopCloser(bytes.NewReader(s.BodyAfterSigning))
		req.ContentLength = int64(len(s.BodyAfterSigning))
	}
	return req, nil
}
