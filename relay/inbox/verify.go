package inbox

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	vocab "github.com/go-ap/activitypub"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/fetch"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/trust"
)

// What a request must pass once its body is read: moderation before and
// after the key is known, the signature with the key, and the key's pin.

// verify checks the signature with the signer's key, refetching the key
// once if a cached copy fails (rotation), and that the key's owner may act
// for the activity's actor: the actor itself, or an actor of the same host
// (an instance actor signing for its users, as GoToSocial does).
func (p *Pipeline) verify(ctx context.Context, signed *httpsig.Signed, in *Activity) error {
	if !policy.SameHost(signed.KeyID, in.Actor) && !p.cfg.Forwarded(ctx, signed.KeyID, in) {
		p.cfg.Metrics.SignatureFailure("key_owner")
		return Refuse(http.StatusUnauthorized, "signature", "signature: key %s is not on the actor's host", signed.KeyID)
	}
	key, cached, err := p.cfg.Keys.Get(ctx, signed.KeyID, in.from)
	if err != nil && in.Type == vocab.DeleteType && in.ObjectID == in.Actor && fetch.Gone(err) {
		return errGoneActorDelete
	}
	if rf := budgetRefusal(err); rf != nil {
		return rf
	}
	if err != nil {
		p.cfg.Metrics.SignatureFailure("key_fetch")
		if errors.Is(err, policy.ErrForbiddenAddress) {
			return Refuse(http.StatusUnauthorized, "signature", "signature: key host is on a private network")
		}
		return Refuse(http.StatusUnauthorized, "signature", "signature: fetching key %s: %v", signed.KeyID, ErrText(err))
	}
	err = signed.Verify(key.Public)
	if err != nil && cached {
		var rerr error
		if key, rerr = p.cfg.Keys.Refresh(ctx, signed.KeyID, in.from); rerr == nil {
			err = signed.Verify(key.Public)
		} else if rf := budgetRefusal(rerr); rf != nil {
			return rf
		} else if !errors.Is(rerr, trust.ErrRefetchTooSoon) {
			err = rerr
		}
	}
	if err != nil {
		p.cfg.Metrics.SignatureFailure(httpsig.Reason(err))
		return Refuse(http.StatusUnauthorized, "signature", "signature: %v", ErrText(err))
	}
	// Now that the key is known, rules on it by fingerprint apply: the
	// same key under another id is the same key.
	if err := p.admitKey(in, signed.KeyID, key); err != nil {
		return err
	}
	owner := in.Actor
	if in.Via != "" {
		owner = in.ViaActor // a forwarding relay signs with its own actor's key
	}
	if key.Owner != owner && !policy.SameHost(key.Owner, owner) {
		p.cfg.Metrics.SignatureFailure("key_owner")
		return Refuse(http.StatusUnauthorized, "signature", "signature: key owner %s may not act for %s", key.Owner, in.Actor)
	}
	peer := in.Peer
	if in.Via != "" {
		peer = in.Via
	}
	newPin, err := p.checkPin(ctx, peer, key)
	if newPin {
		in.newPin, in.pinPeer = &key, peer
	}
	if err == nil && p.cfg.Verified != nil {
		_, ed := key.Public.(ed25519.PublicKey)
		p.cfg.Verified(signed.KeyID, signed.Scheme, ed)
	}
	return err
}

// admit applies the rules to an inbound activity before its key is
// fetched: blocked senders and filtered activities get 403.
func (p *Pipeline) admit(in *Activity, keyID string) error {
	return p.gate(in, policy.Subject{Peer: in.Peer, Actor: in.Actor, KeyID: keyID})
}

// admitKey applies the rules again once the signing key is known, with
// its fingerprint: rules on the key (by fingerprint, or on an id it was
// pinned under) cover it under any id, filters included.
func (p *Pipeline) admitKey(in *Activity, keyID string, key trust.Key) error {
	return p.gate(in, policy.Subject{Peer: in.Peer, Actor: in.Actor, KeyID: keyID, KeyFingerprint: key.Fingerprint})
}

// gate decides for subj, records the decision on in, and refuses (403) a
// blocked sender or an activity a rule's filters refuse.
func (p *Pipeline) gate(in *Activity, subj policy.Subject) error {
	d := p.decide(subj)
	in.Decision = d
	if d.Action.Blocks() {
		p.cfg.Metrics.PolicyRefusal(d.Action, d.Rule)
		return Refuse(http.StatusForbidden, "policy", "refused: %s", d.Reason())
	}
	set := p.cfg.Rules()
	if !set.Filtering() {
		return nil // no rule filters: the body need not be read again
	}
	if in.facts == nil { // read once, for both gates
		f := factsOf(in)
		in.facts = &f
	}
	if r, why := set.Filter(subj, *in.facts, time.Now()); r != nil {
		p.cfg.Metrics.PolicyRefusal("filter", r)
		return Refuse(http.StatusForbidden, "policy", "refused by rule %d: %s", r.ID, why)
	}
	return nil
}

// factsOf reads what moderation filters look at from the raw activity.
func factsOf(in *Activity) policy.Facts {
	var env struct {
		Object json.RawMessage `json:"object"`
	}
	json.Unmarshal(in.Raw, &env)
	var obj struct {
		Type       json.RawMessage `json:"type"`
		Content    json.RawMessage `json:"content"`
		Name       json.RawMessage `json:"name"`
		Summary    json.RawMessage `json:"summary"`
		Published  string          `json:"published"`
		Attachment json.RawMessage `json:"attachment"`
		Image      json.RawMessage `json:"image"`
	}
	json.Unmarshal(env.Object, &obj)
	f := policy.Facts{Type: string(in.Type), ObjectType: string(in.ObjectType)}
	for _, raw := range []json.RawMessage{obj.Content, obj.Name, obj.Summary} {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			f.Text += s + "\n"
		} else if len(raw) > 0 {
			f.Text += string(raw) + "\n" // language maps: search their JSON
		}
	}
	f.Published, _ = time.Parse(time.RFC3339, obj.Published)
	f.HasMedia = hasItems(obj.Attachment) || hasItems(obj.Image)
	if k, ok := listing.KindOf(in.Raw); ok {
		f.ListingKind = string(k)
	}
	return f
}

func hasItems(raw json.RawMessage) bool {
	s := string(raw)
	return len(raw) > 0 && s != "null" && s != "[]" && s != "{}"
}

// checkPin compares a verified key with its pin (trust.Pins): a refused
// rotation is a signature failure.
func (p *Pipeline) checkPin(ctx context.Context, peer string, key trust.Key) (newPin bool, err error) {
	newPin, err = p.cfg.Pins.Check(ctx, peer, key)
	if errors.Is(err, trust.ErrUnprovenRotation) {
		p.cfg.Metrics.SignatureFailure("unproven_rotation")
		return false, Refuse(http.StatusUnauthorized, "signature", "signature: %v", err)
	}
	return newPin, err
}

// pinAccepted pins the new key of an accepted activity, only for a peer
// the relay deals with: a subscriber or a followed relay, or one whose
// Follow was just taken. A stranger's request (refused, or ignored like a
// Like) pins nothing. Failing to pin is not failing the activity; the next
// one tries again.
func (p *Pipeline) pinAccepted(ctx context.Context, in *Activity, result string) {
	ok := result == "accepted" || result == "pending"
	if !ok {
		var err error
		if ok, err = p.cfg.MayPin(ctx, in.pinPeer); err != nil {
			p.cfg.Log.Error("pinning a peer's key", "peer", in.pinPeer, "err", err)
			return
		}
	}
	if !ok {
		return
	}
	if err := p.cfg.Pins.Record(ctx, in.pinPeer, *in.newPin); err != nil {
		p.cfg.Log.Error("pinning a peer's key", "peer", in.pinPeer, "key", in.newPin.ID, "err", err)
	}
}

// budgetRefusal answers a key fetch refused for the requester's share of
// fetches from the key's host (429, with when to retry), or is nil.
func budgetRefusal(err error) *Refusal {
	var budget *trust.BudgetError
	if !errors.As(err, &budget) {
		return nil
	}
	secs := int(budget.RetryAfter/time.Second) + 1
	rf := Refuse(http.StatusTooManyRequests, "rate_limited", "too many new keys from %s; retry in %d s", budget.Host, secs)
	rf.RetryAfter = secs
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
