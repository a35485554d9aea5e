package web

import (
	"encoding/json"
	"net/http"
	"strings"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/asjson"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/store"
)

// actorDoc is the document of the relay actor (name "") or a slice actor.
// Slice actors share the relay's key under their own key ids.
func (s *Site) actorDoc(name string) vocab.Item {
	id := s.Slices.Actor(name)
	a := vocab.ServiceNew(vocab.ID(id))
	a.Name = vocab.DefaultNaturalLanguageValue(s.Name)
	a.PreferredUsername = vocab.DefaultNaturalLanguageValue("relay")
	a.Summary = vocab.DefaultNaturalLanguageValue("A federation relay for cooperative food and farm platforms.")
	a.Inbox = vocab.IRI(s.InboxID)
	a.Outbox = vocab.IRI(s.PublicURL + "/outbox")
	a.Followers = vocab.IRI(s.PublicURL + "/followers")
	a.Following = vocab.IRI(s.PublicURL + "/following")
	a.Endpoints = &vocab.Endpoints{SharedInbox: vocab.IRI(s.InboxID)}
	if name != "" {
		a.Name = vocab.DefaultNaturalLanguageValue(s.Name + ": " + name)
		a.PreferredUsername = vocab.DefaultNaturalLanguageValue(name)
		a.Summary = vocab.DefaultNaturalLanguageValue(s.Slices.Summary(name))
		a.Inbox = vocab.IRI(id + "/inbox")
		a.Outbox = vocab.IRI(id + "/outbox")
		a.Followers = vocab.IRI(id + "/followers")
		a.Following = vocab.IRI(id + "/following")
		a.Endpoints = &vocab.Endpoints{SharedInbox: vocab.IRI(id + "/inbox")}
	}
	a.URL = vocab.IRI(s.PublicURL + "/")
	a.PublicKey = vocab.PublicKey{ID: vocab.ID(id + "#main-key"), Owner: vocab.IRI(id), PublicKeyPem: s.PublicKeyPEM}
	return a
}

func (s *Site) handleActor(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("slice")
	if b, ok := bridgeName(name); ok {
		s.handleBridgeActor(w, r, b)
		return
	}
	if !s.Slices.Known(name) {
		http.NotFound(w, r)
		return
	}
	if wantsHTML(r) { // a person in a browser: the page that explains the relay
		http.Redirect(w, r, s.PublicURL+"/", http.StatusSeeOther)
		return
	}
	doc, err := asjson.Marshal(s.actorDoc(name))
	if err == nil {
		doc, err = s.withAssertionMethod(doc, s.Slices.Actor(name))
	}
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	asjson.Write(w, r, doc)
}

// wantsHTML reports whether a request prefers HTML to any JSON: a
// browser's Accept (text/html first, or no JSON type at all), not a
// server's (application/activity+json, application/ld+json).
func wantsHTML(r *http.Request) bool {
	accept := strings.ToLower(r.Header.Get("Accept"))
	html := strings.Index(accept, "text/html")
	if html < 0 {
		return false
	}
	for _, j := range []string{"application/activity+json", "application/ld+json", "application/json"} {
		if i := strings.Index(accept, j); i >= 0 && i < html {
			return false
		}
	}
	return true
}

func (s *Site) collection(id string, total int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := vocab.OrderedCollectionNew(vocab.ID(id))
		c.TotalItems = uint(total)
		doc, _ := asjson.Marshal(c)
		asjson.Write(w, r, doc)
	}
}

func (s *Site) handleFollowers(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("slice")
	if b, ok := bridgeName(name); ok {
		if a, ok := s.bridgeActor(w, r, b); ok {
			s.collection(a.ID+"/followers", 0)(w, r)
		}
		return
	}
	if !s.Slices.Known(name) {
		http.NotFound(w, r)
		return
	}
	subs, err := s.Store.SubscribersIn(r.Context(), name, store.Accepted)
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	id := s.PublicURL + "/followers"
	if name != "" {
		id = s.Slices.Actor(name) + "/followers"
	}
	s.collection(id, len(subs))(w, r)
}

func (s *Site) handleFollowing(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("slice")
	if b, ok := bridgeName(name); ok {
		if a, ok := s.bridgeActor(w, r, b); ok {
			s.collection(a.ID+"/following", 0)(w, r)
		}
		return
	}
	if name == "" || !s.Slices.Known(name) {
		http.NotFound(w, r)
		return
	}
	s.collection(s.Slices.Actor(name)+"/following", 0)(w, r)
}

func (s *Site) handleWebFinger(w http.ResponseWriter, r *http.Request) {
	res := r.URL.Query().Get("resource")
	if res == "" {
		http.Error(w, "resource parameter required", http.StatusBadRequest)
		return
	}
	user := "relay"
	if actor, ok := s.bridgeAccount(r, res); ok {
		w.Header().Set("Content-Type", "application/jrd+json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		json.NewEncoder(w).Encode(discovery.ActorJRD(strings.TrimPrefix(actor, s.PublicURL+"/actors/"), s.Host, actor))
		return
	}
	if name, ok := s.Slices.OfActor(res); ok {
		if name != "" {
			user = name
		}
	} else {
		u, host, err := discovery.ParseAcct(res)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, isSlice := s.Slices.Get(u)
		me, _ := policy.ParsePeer(s.Host)
		if (u != "relay" && !isSlice) || host != me {
			http.Error(w, "no such account", http.StatusNotFound)
			return
		}
		user = u
	}
	actor := s.ActorID
	if user != "relay" {
		actor = s.Slices.Actor(user)
	}
	w.Header().Set("Content-Type", "application/jrd+json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(discovery.ActorJRD(user, s.Host, actor))
}

func (s *Site) handleNodeInfoIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(discovery.NodeInfoIndex(s.PublicURL + "/nodeinfo/2.1"))
}

func (s *Site) handleNodeInfo(w http.ResponseWriter, r *http.Request) {
	subs, err := s.Store.SubscribersIn(r.Context(), "", store.Accepted)
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	ni := discovery.NodeInfo{
		Version:   "2.1",
		Software:  discovery.Software{Name: s.Software, Version: s.Version},
		Protocols: []string{"activitypub"},
		Services:  discovery.Services{Inbound: []string{}, Outbound: []string{}},
		Metadata: map[string]any{
			"nodeName":    s.Name,
			"contact":     s.Contact,
			"relay":       true,
			"approval":    s.Approval(),
			"subscribers": len(subs),
			"slices":      s.Slices.Names(),
		},
	}
	w.Header().Set("Content-Type", `application/json; profile="`+discovery.NodeInfoSchema+`#"`)
	json.NewEncoder(w).Encode(ni)
}

func (s *Site) handleHostMeta(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/xrd+xml")
	w.Write(discovery.HostMeta(s.PublicURL))
}

func (s *Site) handleReady(w http.ResponseWriter, r *http.Request) {
	if !s.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if _, err := s.Store.QueueDepth(r.Context()); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

// withAssertionMethod adds the relay's Ed25519 key to an actor's document
// as an FEP-521a Multikey (go-ap/activitypub does not model
// assertionMethod). The relay actor's is the announcement key; slice
// actors share it under their own ids, as they share the RSA key, so that
// each can sign RFC 9421 requests with Ed25519.
func (s *Site) withAssertionMethod(doc []byte, actorID string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	m["@context"], _ = json.Marshal(append(append([]any{}, asjson.Contexts...), multikeyContext))
	m["assertionMethod"], _ = json.Marshal([]map[string]string{{
		"id": httpsig.Ed25519KeyID(actorID), "type": "Multikey", "controller": actorID,
		"publicKeyMultibase": s.AssertionKeyMultibase,
	}})
	m["generator"], _ = json.Marshal(map[string]any{
		"type": "Application", "name": "Runrig relay",
		// FEP-844e: what this relay's inbox verifies beyond draft-cavage.
		"implements": []map[string]string{
			{"name": "RFC-9421: HTTP Message Signatures", "href": "https://datatracker.ietf.org/doc/html/rfc9421"},
			{"name": "RFC-9421 signatures using the Ed25519 algorithm", "href": "https://datatracker.ietf.org/doc/html/rfc9421#name-eddsa-using-curve-edwards25"},
		},
	})
	return json.Marshal(m)
}

// bridgeAccount resolves a WebFinger resource naming a bridge's actor
// (acct:bridge-NAME@host, or its IRI) to the actor's IRI.
func (s *Site) bridgeAccount(r *http.Request, res string) (string, bool) {
	user, ok := strings.CutPrefix(res, s.PublicURL+"/actors/")
	if !ok {
		u, host, err := discovery.ParseAcct(res)
		me, _ := policy.ParsePeer(s.Host)
		if err != nil || host != me {
			return "", false
		}
		user = u
	}
	name, ok := bridgeName(user)
	if !ok || s.Bridges == nil {
		return "", false
	}
	a, err := s.Bridges.Actor(r.Context(), name)
	return a.ID, err == nil
}
