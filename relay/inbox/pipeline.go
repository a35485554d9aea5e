package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/trust"
)

// Limits of the inbox.
const (
	// inboxTimeout bounds handling of one inbox request, key fetches
	// included.
	inboxTimeout = 20 * time.Second
	// maxInboxInFlight bounds inbox requests handled at once; beyond it
	// peers get 503 with Retry-After and try again later.
	maxInboxInFlight = 256
	// busyRetryAfterSeconds is the Retry-After of a 503.
	busyRetryAfterSeconds = 10
	// bodyReadTimeout bounds reading one inbox body: a peer's server
	// sends its activity at once; only a slow or hostile client takes
	// longer.
	bodyReadTimeout = 10 * time.Second
	// maxBodyReadsPerAddress bounds the bodies read at once from one
	// client address, so that slow senders from one address cannot hold
	// the server's goroutines and connections. A reverse proxy buffers
	// bodies (nginx's default) and passes them on at once, so its one
	// address rarely has more than a few reads open.
	maxBodyReadsPerAddress = 64
)

// errGoneActorDelete: a Delete whose signing actor no longer exists, so
// it cannot be verified. It is answered 202 and dropped, as Mastodon does:
// refusing it would make the sender retry for days.
var errGoneActorDelete = errors.New("delete by an actor that is gone")

// Refusal is an inbox request refused with an HTTP status and a reason
// label (for the metric) and message (for the peer and the log).
type Refusal struct {
	Status int
	Reason string
	Msg    string
	// Problems, for an invalid listing, are sent as JSON.
	Problems []listing.Problem
	// RetryAfter, in seconds, is sent as Retry-After when set.
	RetryAfter int
}

func (r *Refusal) Error() string { return r.Msg }

// Refuse returns a refusal with status, reason label and message.
func Refuse(status int, reason, format string, args ...any) *Refusal {
	return &Refusal{Status: status, Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP handles a POST to the relay's inbox or a slice's
// (/actors/{slice}/inbox).
func (p *Pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	inboxSlice := r.PathValue("slice")
	if !p.cfg.Known(inboxSlice) {
		p.cfg.Metrics.Rejected("not_found")
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		p.cfg.Metrics.Rejected("method")
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "inbox accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	// The body is read before a slot is taken: a client that sends it
	// slowly holds a reader of its own address's few, never a slot that
	// subscribers' verified traffic needs.
	from := p.clientAddr(r)
	body, err := p.readBody(w, r, from)
	if err != nil {
		p.answerRefusal(w, nil, err)
		return
	}
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	default:
		rf := Refuse(http.StatusServiceUnavailable, "busy", "relay busy, retry later")
		rf.RetryAfter = busyRetryAfterSeconds
		p.answerRefusal(w, nil, rf)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), inboxTimeout)
	defer cancel()
	in, result, err := p.receive(ctx, r, body, inboxSlice, from)
	if err != nil {
		p.answerRefusal(w, in, err)
		return
	}
	p.cfg.Metrics.Received(typeLabel(in.Type), result)
	w.WriteHeader(http.StatusAccepted)
}

// readBody reads an inbox request's body: within bodyReadTimeout, at most
// MaxBody bytes, and at most maxBodyReadsPerAddress at once per client
// address addr.
func (p *Pipeline) readBody(w http.ResponseWriter, r *http.Request, addr string) ([]byte, error) {
	if !p.bodyReaders.acquire(addr) {
		rf := Refuse(http.StatusServiceUnavailable, "slow_client", "too many unfinished requests from %s; retry later", addr)
		rf.RetryAfter = busyRetryAfterSeconds
		return nil, rf
	}
	defer p.bodyReaders.release(addr)
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, p.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, Refuse(http.StatusRequestEntityTooLarge, "too_large", "body exceeds %d bytes", p.cfg.MaxBody)
		}
		return nil, Refuse(http.StatusBadRequest, "read", "reading body: %v", ErrText(err))
	}
	return body, nil
}

// clientAddr is the address a request is counted against: the client a
// trusted reverse proxy names (see policy.ClientAddr), else the peer's
// own address.
func (p *Pipeline) clientAddr(r *http.Request) string {
	if a := policy.ClientAddr(r, p.cfg.TrustedProxies); a != "" {
		return a
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return addr
}

// answerRefusal answers a refused inbox request with its status and a
// one-line reason, counts it and logs it (rate-limited per peer).
func (p *Pipeline) answerRefusal(w http.ResponseWriter, in *Activity, err error) {
	var rf *Refusal
	if !errors.As(err, &rf) {
		rf = Refuse(http.StatusInternalServerError, "internal", "internal error")
		p.cfg.Log.Error("inbox", "err", err)
	}
	peer := "unknown"
	if in != nil {
		peer = in.Peer
		p.cfg.OnRefused(peer)
	}
	p.cfg.Metrics.Rejected(rf.Reason)
	if in != nil {
		p.cfg.Metrics.Received(typeLabel(in.Type), "rejected")
	}
	if in != nil && in.verified {
		p.cfg.PeerLog.WarnVerified(peer, rf.Reason, "inbox request refused", "status", rf.Status, "detail", rf.Msg)
	} else {
		p.cfg.PeerLog.Warn(peer, rf.Reason, "inbox request refused", "status", rf.Status, "detail", rf.Msg)
	}
	if rf.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(rf.RetryAfter))
	}
	if rf.Problems != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rf.Status)
		json.NewEncoder(w).Encode(map[string]any{"error": rf.Msg, "problems": rf.Problems})
		return
	}
	http.Error(w, rf.Msg, rf.Status)
}

// receive verifies and processes one inbox request from the client
// address from. It returns the parsed activity when it got that far, and a
// result label.
func (p *Pipeline) receive(ctx context.Context, r *http.Request, body []byte, inboxSlice, from string) (*Activity, string, error) {
	// Cheap checks first: header syntax, digest and date need no network.
	scheme, _, _ := strings.Cut(p.cfg.PublicURL, "://")
	signed, err := httpsig.Check(r, body, time.Now(), httpsig.Window{Past: p.cfg.Window.Past, Future: p.cfg.Window.Future},
		httpsig.Target{Scheme: scheme})
	if err != nil {
		p.cfg.Metrics.SignatureFailure(httpsig.Reason(err))
		return nil, "", Refuse(http.StatusUnauthorized, "signature", "signature: %v", err)
	}
	// The signed Host must be this relay's: a request signed for another
	// server (captured there and replayed here) proves nothing to us.
	if !isSelf(p.cfg.PublicURL, r.Host) {
		p.cfg.Metrics.SignatureFailure("wrong_host")
		return nil, "", Refuse(http.StatusUnauthorized, "signature", "signature: signed for host %q, not for this relay (%s)", r.Host, p.cfg.Host)
	}
	in, err := Parse(body)
	if err != nil {
		reason := "invalid"
		if errors.Is(err, errDuplicateKey) || errors.Is(err, errTooDeep) {
			reason = "ambiguous_json"
		}
		return nil, "", Refuse(http.StatusBadRequest, reason, "%v", err)
	}
	in.from = from
	// Moderation before any key is fetched: nothing is fetched from a
	// blocked peer.
	if err := p.admit(in, signed.KeyID); err != nil {
		return in, "", err
	}
	if err := p.verify(ctx, signed, in); err != nil {
		if errors.Is(err, errGoneActorDelete) {
			return in, "unverifiable", nil
		}
		return in, "", err
	}
	in.verified = true
	if err := p.checkProofs(ctx, in); err != nil {
		return in, "", err
	}
	// Rate limits come after verification, so nobody can spend another
	// peer's budget by claiming to be it.
	if ok, wait := p.cfg.Limiter.Allow(in.Peer, p.cfg.TrustOf(in.Peer)); !ok {
		secs := int(wait/time.Second) + 1
		rf := Refuse(http.StatusTooManyRequests, "rate_limited", "too many activities from %s; retry in %d s", in.Peer, secs)
		rf.RetryAfter = secs
		return in, "", rf
	}
	result, err := p.cfg.Process.Process(ctx, in, inboxSlice)
	if err == nil && in.newPin != nil {
		p.pinAccepted(ctx, in, result)
	}
	return in, result, err
}

// ErrText shortens an error (a fetch's, say) for a one-line reason.
func ErrText(err error) string {
	t := err.Error()
	if len(t) > 200 {
		t = t[:200]
	}
	return t
}

// relayedTypes bounds the "type" label of inbox metrics.
var relayedTypes = map[vocab.ActivityVocabularyType]bool{
	vocab.FollowType: true, vocab.UndoType: true, vocab.AcceptType: true, vocab.RejectType: true,
	vocab.CreateType: true, vocab.UpdateType: true, vocab.DeleteType: true, vocab.AnnounceType: true,
	vocab.MoveType: true,
}

func typeLabel(t vocab.ActivityVocabularyType) string {
	if relayedTypes[t] {
		return string(t)
	}
	return "other"
}

// Processor acts on a verified activity received at the inbox of a slice
// ("" for the relay's) and returns a result label.
type Processor interface {
	Process(ctx context.Context, in *Activity, slice string) (string, error)
}

// ProcessorFunc is a function that is a Processor.
type ProcessorFunc func(ctx context.Context, in *Activity, slice string) (string, error)

// Process implements Processor.
func (f ProcessorFunc) Process(ctx context.Context, in *Activity, slice string) (string, error) {
	return f(ctx, in, slice)
}

// Metrics counts what the inbox does; each call adds one.
type Metrics interface {
	// Rejected counts a refused request by reason.
	Rejected(reason string)
	// SignatureFailure counts a signature that failed, by reason.
	SignatureFailure(reason string)
	// Received counts a request by activity type and result.
	Received(typ, result string)
	// PolicyRefusal counts a refusal by moderation.
	PolicyRefusal(action policy.Action, r *policy.Rule)
	// ProofVerified counts an FEP-8b32 proof (set) that verified.
	ProofVerified()
}

// PeerLogger logs peer-caused errors at a bounded rate.
type PeerLogger interface {
	// Warn logs for a peer whose name nothing verified.
	Warn(peer, reason, msg string, args ...any)
	// WarnVerified logs for a peer whose signature verified.
	WarnVerified(peer, reason, msg string, args ...any)
}

// Config is what the inbox pipeline works with; the relay fills it.
type Config struct {
	// PublicURL is the relay's, Host its authority: signed requests
	// must name it.
	PublicURL, Host string
	// MaxBody bounds a body, in bytes; Window the signature's Date.
	MaxBody int64
	Window  httpsig.Window
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client the per-address bounds count (loopback always is).
	TrustedProxies []netip.Prefix
	// Keys fetches and caches signers' keys; Pins pins them; Limiter
	// bounds each peer's rate, scaled by TrustOf.
	Keys    *trust.Keys
	Pins    *trust.Pins
	Limiter *trust.Limiter
	TrustOf func(peer string) trust.Level
	// Rules is the current moderation rule set.
	Rules func() *policy.Set
	// Known reports whether a slice name ("" for the relay) exists.
	Known func(slice string) bool
	// Forwarded reports whether a key that is not on the actor's host
	// belongs to a followed relay that passed the activity on (and
	// records it in in.Via).
	Forwarded func(ctx context.Context, keyID string, in *Activity) bool
	// MayPin reports whether peer is one the relay deals with
	// (subscriber or followed relay), whose new keys are pinned.
	MayPin func(ctx context.Context, peer string) (bool, error)
	// Process acts on what passed.
	Process Processor
	Metrics Metrics
	Log     *slog.Logger
	PeerLog PeerLogger
	// OnRefused is told the peer named by every refused request.
	OnRefused func(peer string)
	// Verified, when set, is told of every signature that verified: its
	// key id, scheme (httpsig.Cavage or httpsig.RFC9421) and whether the
	// key was Ed25519.
	Verified func(keyID, scheme string, ed25519 bool)
}

// Pipeline is the verified inbox: bounds (concurrency, body size and
// time, per-address reads), the signature and its host, the parse (one
// reading, no duplicate keys), the moderation gate before and after the
// key is known, the key and its pin, the peer's rate, then the Processor.
type Pipeline struct {
	cfg         Config
	slots       chan struct{} // bounds requests processed at once
	bodyReaders *addrLimit    // bounds bodies read at once per client address
}

// New returns the inbox pipeline.
func New(cfg Config) *Pipeline {
	return &Pipeline{cfg: cfg, slots: make(chan struct{}, maxInboxInFlight), bodyReaders: newAddrLimit(maxBodyReadsPerAddress)}
}

// Reading is how many bodies are being read now.
func (p *Pipeline) Reading() int { return p.bodyReaders.open() }

// decide applies the moderation rules to a subject.
func (p *Pipeline) decide(subj policy.Subject) policy.Decision { return p.cfg.Rules().Decide(subj) }
