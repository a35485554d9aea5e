package relay

import (
	"encoding/json"
	"net/http"
	"strings"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/store"
)

// Content types of ActivityPub documents.
const (
	contentTypeAS = "application/activity+json"
	contentTypeLD = `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`
	asPublic      = "https://www.w3.org/ns/activitystreams#Public"
)

// contexts are the JSON-LD contexts of the documents the relay writes.
var contexts = []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"}

// Handler returns the public HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleFront)
	mux.HandleFunc("GET /actor", s.handleActor)
	mux.HandleFunc("/inbox", s.handleInbox)
	mux.HandleFunc("GET /outbox", s.collection(s.cfg.PublicURL+"/outbox", 0))
	mux.HandleFunc("GET /following", s.collection(s.cfg.PublicURL+"/following", 0))
	mux.HandleFunc("GET /followers", s.handleFollowers)
	mux.HandleFunc("GET /actors/{slice}", s.handleActor)
	mux.HandleFunc("/actors/{slice}/inbox", s.handleInbox)
	mux.HandleFunc("GET /actors/{slice}/outbox", s.handleSliceOutbox)
	mux.HandleFunc("GET /actors/{slice}/followers", s.handleFollowers)
	mux.HandleFunc("GET /actors/{slice}/following", s.handleFollowing)
	mux.HandleFunc("GET /.well-known/webfinger", s.handleWebFinger)
	mux.HandleFunc("GET /.well-known/nodeinfo", s.handleNodeInfoIndex)
	mux.HandleFunc("GET /nodeinfo/2.1", s.handleNodeInfo)
	mux.HandleFunc("GET /.well-known/host-meta", s.handleHostMeta)
	mux.HandleFunc("GET /listings", s.handleListings)
	mux.HandleFunc("GET /peers", s.handlePeers)
	mux.HandleFunc("GET /.well-known/runrig-announcement", s.handleOwnAnnouncement)
	mux.HandleFunc("GET /policy/blocks.csv", s.handlePublishedBlocks)
	mux.HandleFunc("GET /policy/endorsements.json", s.handlePublishedEndorsements)
	mux.HandleFunc("GET /ns", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ld+json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Write([]byte(listing.Context))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", s.metricsHandler())
	return mux
}

// writeAS writes doc as an ActivityStreams document in the content type
// the client asked for.
func writeAS(w http.ResponseWriter, r *http.Request, doc []byte) {
	ct := contentTypeAS
	if strings.Contains(r.Header.Get("Accept"), "application/ld+json") {
		ct = contentTypeLD
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Vary", "Accept")
	w.Write(doc)
}

// marshalAS marshals an item with go-ap/activitypub and adds the JSON-LD
// context (set here rather than through jsonld.WithContext, which writes a
// package global).
func marshalAS(it vocab.Item) ([]byte, error) {
	b, err := vocab.MarshalJSON(it)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["@context"], _ = json.Marshal(contexts)
	return json.Marshal(m)
}

// actorDoc is the document of the relay actor (name "") or a slice actor.
// Slice actors share the relay's key under their own key ids.
func (s *Server) actorDoc(name string) vocab.Item {
	id := s.slices.Actor(name)
	a := vocab.ServiceNew(vocab.ID(id))
	a.Name = vocab.DefaultNaturalLanguageValue(s.cfg.Name)
	a.PreferredUsername = vocab.DefaultNaturalLanguageValue("relay")
	a.Summary = vocab.DefaultNaturalLanguageValue("A federation relay for cooperative food and farm platforms.")
	a.Inbox = vocab.IRI(s.inboxID)
	a.Outbox = vocab.IRI(s.cfg.PublicURL + "/outbox")
	a.Followers = vocab.IRI(s.cfg.PublicURL + "/followers")
	a.Following = vocab.IRI(s.cfg.PublicURL + "/following")
	a.Endpoints = &vocab.Endpoints{SharedInbox: vocab.IRI(s.inboxID)}
	if name != "" {
		a.Name = vocab.DefaultNaturalLanguageValue(s.cfg.Name + ": " + name)
		a.PreferredUsername = vocab.DefaultNaturalLanguageValue(name)
		a.Summary = vocab.DefaultNaturalLanguageValue(s.slices.Summary(name))
		a.Inbox = vocab.IRI(id + "/inbox")
		a.Outbox = vocab.IRI(id + "/outbox")
		a.Followers = vocab.IRI(id + "/followers")
		a.Following = vocab.IRI(id + "/following")
		a.Endpoints = &vocab.Endpoints{SharedInbox: vocab.IRI(id + "/inbox")}
	}
	a.URL = vocab.IRI(s.cfg.PublicURL + "/")
	a.PublicKey = vocab.PublicKey{ID: vocab.ID(id + "#main-key"), Owner: vocab.IRI(id), PublicKeyPem: s.pubPEM}
	return a
}

func (s *Server) handleActor(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("slice")
	if !s.slices.Known(name) {
		http.NotFound(w, r)
		return
	}
	doc, err := marshalAS(s.actorDoc(name))
	if err == nil && name == "" {
		doc, err = s.withAssertionMethod(doc)
	}
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeAS(w, r, doc)
}

func (s *Server) collection(id string, total int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := vocab.OrderedCollectionNew(vocab.ID(id))
		c.TotalItems = uint(total)
		doc, _ := marshalAS(c)
		writeAS(w, r, doc)
	}
}

func (s *Server) handleFollowers(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("slice")
	if !s.slices.Known(name) {
		http.NotFound(w, r)
		return
	}
	subs, err := s.store.SubscribersIn(r.Context(), name, store.Accepted)
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	id := s.cfg.PublicURL + "/followers"
	if name != "" {
		id = s.slices.Actor(name) + "/followers"
	}
	s.collection(id, len(subs))(w, r)
}

func (s *Server) handleFollowing(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("slice")
	if name == "" || !s.slices.Known(name) {
		http.NotFound(w, r)
		return
	}
	s.collection(s.slices.Actor(name)+"/following", 0)(w, r)
}

func (s *Server) handleWebFinger(w http.ResponseWriter, r *http.Request) {
	res := r.URL.Query().Get("resource")
	if res == "" {
		http.Error(w, "resource parameter required", http.StatusBadRequest)
		return
	}
	user := "relay"
	if name, ok := s.slices.OfActor(res); ok {
		if name != "" {
			user = name
		}
	} else {
		u, host, err := discovery.ParseAcct(res)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, isSlice := s.slices.Get(u)
		me, _ := policy.ParsePeer(s.host)
		if (u != "relay" && !isSlice) || host != me {
			http.Error(w, "no such account", http.StatusNotFound)
			return
		}
		user = u
	}
	actor := s.actorID
	if user != "relay" {
		actor = s.slices.Actor(user)
	}
	w.Header().Set("Content-Type", "application/jrd+json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(discovery.ActorJRD(user, s.host, actor))
}

func (s *Server) handleNodeInfoIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(discovery.NodeInfoIndex(s.cfg.PublicURL + "/nodeinfo/2.1"))
}

func (s *Server) handleNodeInfo(w http.ResponseWriter, r *http.Request) {
	subs, err := s.store.SubscribersIn(r.Context(), "", store.Accepted)
	if err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	ni := discovery.NodeInfo{
		Version:   "2.1",
		Software:  discovery.Software{Name: softwareName, Version: Version},
		Protocols: []string{"activitypub"},
		Services:  discovery.Services{Inbound: []string{}, Outbound: []string{}},
		Metadata: map[string]any{
			"nodeName":    s.cfg.Name,
			"contact":     s.cfg.Contact,
			"relay":       true,
			"approval":    s.cfg.Approval,
			"subscribers": len(subs),
			"slices":      s.slices.Names(),
		},
	}
	w.Header().Set("Content-Type", `application/json; profile="`+discovery.NodeInfoSchema+`#"`)
	json.NewEncoder(w).Encode(ni)
}

func (s *Server) handleHostMeta(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/xrd+xml")
	w.Write(discovery.HostMeta(s.cfg.PublicURL))
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if _, err := s.store.QueueDepth(r.Context()); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}
