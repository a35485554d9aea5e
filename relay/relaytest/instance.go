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
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	// Ed25519 is the key published in the actor's assertionMethod (nil:
	// none).
	Ed25519 ed25519.PrivateKey
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
	// Ed25519, when set, is published in the actor's assertionMethod as
	// the Multikey ACTOR#ed25519-key (FEP-521a), as Fedify and Mitra do,
	// for FEP-8b32 proofs, and the actor's generator says (FEP-844e) that
	// the instance takes RFC 9421 signatures, with Ed25519 too; it then
	// verifies them with the dadrus/httpsig library.
	Ed25519 ed25519.PrivateKey
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
	in := &Instance{Kind: kind, Key: key, Ed25519: cfg.Ed25519, relayKey: map[string]*rsa.PublicKey{},
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
	if !in.noShared && in.Ed25519 == nil {
		return b
	}
	doc := decode(b)
	if in.noShared {
		delete(doc, "sharedInbox")
		if ep, ok := doc["endpoints"].(map[string]any); ok {
			delete(ep, "sharedInbox")
		}
	}
	if in.Ed25519 != nil {
		AddEd25519(doc, in.ActorID, in.Ed25519.Public().(ed25519.PublicKey))
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
		if typ, id := Delivered(body); typ != "Accept" && typ != "Reject" {
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
