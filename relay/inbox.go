package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/fetch"
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

// refusal is an inbox request refused with an HTTP status and a reason
// label (for the metric) and message (for the peer and the log).
type refusal struct {
	status int
	reason string
	msg    string
	// problems, for an invalid listing, are sent as JSON.
	problems []listing.Problem
	// retryAfter, in seconds, is sent as Retry-After when set.
	retryAfter int
}

func (r *refusal) Error() string { return r.msg }

func refuse(status int, reason, format string, args ...any) *refusal {
	return &refusal{status: status, reason: reason, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) handleInbox(w http.ResponseWriter, r *http.Request) {
	inboxSlice := r.PathValue("slice")
	if !s.slices.Known(inboxSlice) {
		s.metrics.rejected.WithLabelValues("not_found").Inc()
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		s.metrics.rejected.WithLabelValues("method").Inc()
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "inbox accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	// The body is read before a slot is taken: a client that sends it
	// slowly holds a reader of its own address's few, never a slot that
	// subscribers' verified traffic needs.
	body, err := s.readBody(w, r)
	if err != nil {
		s.answerRefusal(w, nil, err)
		return
	}
	select {
	case s.inboxSlots <- struct{}{}:
		defer func() { <-s.inboxSlots }()
	default:
		rf := refuse(http.StatusServiceUnavailable, "busy", "relay busy, retry later")
		rf.retryAfter = busyRetryAfterSeconds
		s.answerRefusal(w, nil, rf)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), inboxTimeout)
	defer cancel()
	in, result, err := s.receive(ctx, r, body, inboxSlice)
	if err != nil {
		s.answerRefusal(w, in, err)
		return
	}
	s.metrics.inbound.WithLabelValues(typeLabel(in.Type), result).Inc()
	w.WriteHeader(http.StatusAccepted)
}

// readBody reads an inbox request's body: within bodyReadTimeout, at most
// MaxBody bytes, and at most maxBodyReadsPerAddress at once per client
// address.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	addr := clientAddr(r)
	if !s.bodyReaders.acquire(addr) {
		rf := refuse(http.StatusServiceUnavailable, "slow_client", "too many unfinished requests from %s; retry later", addr)
		rf.retryAfter = busyRetryAfterSeconds
		return nil, rf
	}
	defer s.bodyReaders.release(addr)
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, refuse(http.StatusRequestEntityTooLarge, "too_large", "body exceeds %d bytes", s.cfg.MaxBody)
		}
		return nil, refuse(http.StatusBadRequest, "read", "reading body: %v", errText(err))
	}
	return body, nil
}

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return addr
}

// answerRefusal answers a refused inbox request with its status and a
// one-line reason, counts it and logs it (rate-limited per peer).
func (s *Server) answerRefusal(w http.ResponseWriter, in *inbound, err error) {
	var rf *refusal
	if !errors.As(err, &rf) {
		rf = refuse(http.StatusInternalServerError, "internal", "internal error")
		s.log.Error("inbox", "err", err)
	}
	peer := "unknown"
	if in != nil {
		peer = in.Peer
		s.rejections.inc(peer)
	}
	s.metrics.rejected.WithLabelValues(rf.reason).Inc()
	if in != nil {
		s.metrics.inbound.WithLabelValues(typeLabel(in.Type), "rejected").Inc()
	}
	if in != nil && in.verified {
		s.peerLog.WarnVerified(peer, rf.reason, "inbox request refused", "status", rf.status, "detail", rf.msg)
	} else {
		s.peerLog.Warn(peer, rf.reason, "inbox request refused", "status", rf.status, "detail", rf.msg)
	}
	if rf.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(rf.retryAfter))
	}
	if rf.problems != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rf.status)
		json.NewEncoder(w).Encode(map[string]any{"error": rf.msg, "problems": rf.problems})
		return
	}
	http.Error(w, rf.msg, rf.status)
}

// receive verifies and processes one inbox request. It returns the
// parsed activity when it got that far, and a result label.
func (s *Server) receive(ctx context.Context, r *http.Request, body []byte, inboxSlice string) (*inbound, string, error) {
	// Cheap checks first: header syntax, digest and date need no network.
	signed, err := httpsig.Check(r, body, time.Now(), httpsig.Window{Past: s.cfg.SignaturePast, Future: s.cfg.SignatureFuture})
	if err != nil {
		s.metrics.sigFailures.WithLabelValues(httpsig.Reason(err)).Inc()
		return nil, "", refuse(http.StatusUnauthorized, "signature", "signature: %v", err)
	}
	// The signed Host must be this relay's: a request signed for another
	// server (captured there and replayed here) proves nothing to us.
	if !isSelf(s.cfg.PublicURL, r.Host) {
		s.metrics.sigFailures.WithLabelValues("wrong_host").Inc()
		return nil, "", refuse(http.StatusUnauthorized, "signature", "signature: signed for host %q, not for this relay (%s)", r.Host, s.host)
	}
	in, err := parseInbound(body)
	if err != nil {
		reason := "invalid"
		if errors.Is(err, errDuplicateKey) || errors.Is(err, errTooDeep) {
			reason = "ambiguous_json"
		}
		return nil, "", refuse(http.StatusBadRequest, reason, "%v", err)
	}
	in.from = clientAddr(r)
	// Moderation before any key is fetched: nothing is fetched from a
	// blocked peer.
	if err := s.admit(in, signed.KeyID); err != nil {
		return in, "", err
	}
	if err := s.verify(ctx, signed, in); err != nil {
		if errors.Is(err, errGoneActorDelete) {
			return in, "unverifiable", nil
		}
		return in, "", err
	}
	in.verified = true
	// Rate limits come after verification, so nobody can spend another
	// peer's budget by claiming to be it.
	if ok, wait := s.limiter.Allow(in.Peer, s.trustOf(in.Peer)); !ok {
		secs := int(wait/time.Second) + 1
		rf := refuse(http.StatusTooManyRequests, "rate_limited", "too many activities from %s; retry in %d s", in.Peer, secs)
		rf.retryAfter = secs
		return in, "", rf
	}
	result, err := s.process(ctx, in, inboxSlice)
	if err == nil && in.newPin != nil {
		s.pinAccepted(ctx, in, result)
	}
	return in, result, err
}

// pinAccepted pins the new key of an accepted activity, only for a peer
// the relay deals with: a subscriber or a followed relay, or one whose
// Follow was just taken. A stranger's request (refused, or ignored like a
// Like) pins nothing. Failing to pin is not failing the activity; the next
// one tries again.
func (s *Server) pinAccepted(ctx context.Context, in *inbound, result string) {
	ok := result == "accepted" || result == "pending"
	if !ok {
		var err error
		if ok, err = s.mayPublish(ctx, in.pinPeer); err != nil {
			s.log.Error("pinning a peer's key", "peer", in.pinPeer, "err", err)
			return
		}
	}
	if !ok {
		return
	}
	if err := s.pins.Record(ctx, in.pinPeer, *in.newPin); err != nil {
		s.log.Error("pinning a peer's key", "peer", in.pinPeer, "key", in.newPin.ID, "err", err)
	}
}

// verify checks the signature with the signer's key, refetching the key
// once if a cached copy fails (rotation), and that the key's owner may act
// for the activity's actor: the actor itself, or an actor of the same host
// (an instance actor signing for its users, as GoToSocial does).
func (s *Server) verify(ctx context.Context, signed *httpsig.Signed, in *inbound) error {
	if !policy.SameHost(signed.KeyID, in.Actor) && !s.forwardedByRelay(ctx, signed.KeyID, in) {
		s.metrics.sigFailures.WithLabelValues("key_owner").Inc()
		return refuse(http.StatusUnauthorized, "signature", "signature: key %s is not on the actor's host", signed.KeyID)
	}
	key, cached, err := s.keys.Get(ctx, signed.KeyID, in.from)
	if err != nil && in.Type == vocab.DeleteType && in.ObjectID == in.Actor && fetch.Gone(err) {
		return errGoneActorDelete
	}
	if rf := budgetRefusal(err); rf != nil {
		return rf
	}
	if err != nil {
		s.metrics.sigFailures.WithLabelValues("key_fetch").Inc()
		if errors.Is(err, policy.ErrForbiddenAddress) {
			return refuse(http.StatusUnauthorized, "signature", "signature: key host is on a private network")
		}
		return refuse(http.StatusUnauthorized, "signature", "signature: fetching key %s: %v", signed.KeyID, errText(err))
	}
	err = signed.Verify(key.Public)
	if err != nil && cached {
		var rerr error
		if key, rerr = s.keys.Refresh(ctx, signed.KeyID, in.from); rerr == nil {
			err = signed.Verify(key.Public)
		} else if rf := budgetRefusal(rerr); rf != nil {
			return rf
		} else if !errors.Is(rerr, trust.ErrRefetchTooSoon) {
			err = rerr
		}
	}
	if err != nil {
		s.metrics.sigFailures.WithLabelValues(httpsig.Reason(err)).Inc()
		return refuse(http.StatusUnauthorized, "signature", "signature: %v", errText(err))
	}
	// Now that the key is known, rules on it by fingerprint apply: the
	// same key under another id is the same key.
	if err := s.admitKey(in, signed.KeyID, key); err != nil {
		return err
	}
	owner := in.Actor
	if in.Via != "" {
		owner = in.viaActor // a forwarding relay signs with its own actor's key
	}
	if key.Owner != owner && !policy.SameHost(key.Owner, owner) {
		s.metrics.sigFailures.WithLabelValues("key_owner").Inc()
		return refuse(http.StatusUnauthorized, "signature", "signature: key owner %s may not act for %s", key.Owner, in.Actor)
	}
	peer := in.Peer
	if in.Via != "" {
		peer = in.Via
	}
	newPin, err := s.checkPin(ctx, peer, key)
	if newPin {
		in.newPin, in.pinPeer = &key, peer
	}
	return err
}

// budgetRefusal answers a key fetch refused for the requester's share of
// fetches from the key's host (429, with when to retry), or is nil.
func budgetRefusal(err error) *refusal {
	var budget *trust.BudgetError
	if !errors.As(err, &budget) {
		return nil
	}
	secs := int(budget.RetryAfter/time.Second) + 1
	rf := refuse(http.StatusTooManyRequests, "rate_limited", "too many new keys from %s; retry in %d s", budget.Host, secs)
	rf.retryAfter = secs
	return rf
}

// isSelf reports whether host (a Host header) names the authority of
// publicURL, in any spelling of it.
func isSelf(publicURL, host string) bool {
	scheme, _, _ := strings.Cut(publicURL, "://")
	got, err := policy.PeerOf(scheme + "://" + host + "/")
	me, _ := policy.PeerOf(publicURL)
	return err == nil && got == me
}

// errText shortens fetch errors for a one-line reason.
func errText(err error) string {
	t := err.Error()
	if len(t) > 200 {
		t = t[:200]
	}
	return t
}

// process acts on a verified activity received at the inbox of a slice
// ("" for the relay's) and returns a result label.
func (s *Server) process(ctx context.Context, in *inbound, inboxSlice string) (string, error) {
	switch in.Type {
	case vocab.FollowType:
		return s.follow(ctx, in, inboxSlice)
	case vocab.UndoType:
		return s.undo(ctx, in, inboxSlice)
	case vocab.AcceptType, vocab.RejectType:
		return s.followBackAnswer(ctx, in)
	case vocab.CreateType, vocab.UpdateType, vocab.DeleteType, vocab.AnnounceType, vocab.MoveType:
		return s.relay(ctx, in)
	default:
		return "ignored", nil
	}
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
