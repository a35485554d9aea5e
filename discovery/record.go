package discovery

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/runrig/runrig/policy"
)

// Limits and constants of announcements.
const (
	// RecordVersion is the version of the record format.
	RecordVersion = 1
	// MaxRecordBytes bounds a signed announcement.
	MaxRecordBytes = 64 << 10
	// MaxMembers bounds the FMP servers a relay lists in its announcement.
	MaxMembers = 200
	// MaxValidity bounds how long an announcement is valid.
	MaxValidity = 48 * time.Hour
	// clockSkew is how far in the future an issue time may be.
	clockSkew = 5 * time.Minute
	// signingPrefix separates announcement signatures from any other use
	// of the same key.
	signingPrefix = "runrig/announcement/v1\x00"
)

// Record is what a relay (or an FMP server) announces about itself. It is
// only a hint until verified against the domain it names.
type Record struct {
	Version int `json:"v"`
	// Domain is the announcer's authority, host[:port].
	Domain string `json:"domain"`
	// Actor and Inbox are its ActivityPub actor and inbox.
	Actor string `json:"actor"`
	Inbox string `json:"inbox"`
	// PeerID and Addrs are its libp2p identity and multiaddrs.
	PeerID string   `json:"peer_id,omitempty"`
	Addrs  []string `json:"addrs,omitempty"`
	// Gossip is its memberlist address, host:port.
	Gossip string `json:"gossip,omitempty"`
	// Regions it serves and listing kinds it carries.
	Regions []string `json:"regions,omitempty"`
	Kinds   []string `json:"kinds,omitempty"`
	// Software is "name version".
	Software string `json:"software"`
	// Members are the servers subscribed to this relay that opted in to
	// be discoverable (by following its directory actor).
	Members []Member `json:"members,omitempty"`
	// Leaving is set in the last announcement of a relay that is
	// stopping: peers mark it down at once rather than list it up until
	// its previous announcement expires.
	Leaving bool `json:"leaving,omitempty"`
	// Seq orders announcements of a domain: the highest wins.
	Seq     uint64    `json:"seq"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
}

// Member is an FMP server listed in its relay's announcement. Its actor
// was verified by the relay when it subscribed.
type Member struct {
	Domain  string   `json:"domain"`
	Actor   string   `json:"actor"`
	Regions []string `json:"regions,omitempty"`
	Kinds   []string `json:"kinds,omitempty"`
}

// Signed is a record with its signature, as it travels.
type Signed struct {
	// Record is the record's exact bytes, as signed.
	Record json.RawMessage `json:"record"`
	// Key is the id of the signing key, listed in the actor's
	// assertionMethod.
	Key string `json:"key"`
	Sig []byte `json:"sig"`
}

// Reasons an announcement is refused, matched with errors.Is; [Reason]
// labels them for metrics.
var (
	ErrMalformed = errors.New("malformed announcement")
	ErrTooLarge  = errors.New("announcement too large")
	ErrForged    = errors.New("announcement signature does not verify")
	ErrKey       = errors.New("signing key not valid for the domain")
	ErrExpired   = errors.New("announcement expired or not yet valid")
	ErrReplay    = errors.New("announcement is not newer than the one held")
	ErrBlocked   = errors.New("domain blocked by policy")
	ErrBusy      = errors.New("too many announcements wait for verification")
)

// reasons label announcement errors.
var reasons = []struct {
	err   error
	label string
}{{ErrTooLarge, "too_large"}, {ErrMalformed, "malformed"}, {ErrForged, "forged"}, {ErrKey, "key"},
	{ErrExpired, "expired"}, {ErrReplay, "replay"}, {ErrBlocked, "blocked"}, {ErrBusy, "busy"}}

// Reason returns a short label for an announcement error.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "unverifiable"
}

// Reasons lists every label [Reason] returns.
func Reasons() []string {
	out := []string{"unverifiable"}
	for _, r := range reasons {
		out = append(out, r.label)
	}
	return out
}

func signingBytes(record []byte) []byte {
	return append([]byte(signingPrefix), record...)
}

// Sign signs a record with key keyID.
func Sign(r Record, keyID string, priv ed25519.PrivateKey) ([]byte, error) {
	r.Version = RecordVersion
	rec, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(Signed{Record: rec, Key: keyID, Sig: ed25519.Sign(priv, signingBytes(rec))})
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	return b, nil
}

// Parse reads a signed announcement and checks its shape, without
// verifying the signature.
func Parse(b []byte) (Signed, Record, error) {
	var s Signed
	var r Record
	if len(b) > MaxRecordBytes {
		return s, r, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	if err := json.Unmarshal(b, &s); err != nil || len(s.Record) == 0 || s.Key == "" || len(s.Sig) != ed25519.SignatureSize {
		return s, r, fmt.Errorf("%w: want record, key and a 64-byte sig", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(s.Record))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return s, r, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if r.Version != RecordVersion {
		return s, r, fmt.Errorf("%w: version %d", ErrMalformed, r.Version)
	}
	if r.Domain == "" || authority(r.Actor) != r.Domain || authority(r.Inbox) != r.Domain || authority(s.Key) != r.Domain {
		return s, r, fmt.Errorf("%w: actor, inbox and key must be on the domain %q", ErrMalformed, r.Domain)
	}
	if len(r.Addrs) > 16 || len(r.Regions) > 64 || len(r.Kinds) > 8 || len(r.Members) > MaxMembers {
		return s, r, fmt.Errorf("%w: too many addresses, regions, kinds or members", ErrMalformed)
	}
	for _, m := range r.Members {
		if m.Domain == "" || authority(m.Actor) != m.Domain || len(m.Regions) > 64 || len(m.Kinds) > 8 {
			return s, r, fmt.Errorf("%w: member %q", ErrMalformed, m.Domain)
		}
	}
	return s, r, nil
}

// authority is the host[:port] of an http(s) URL in its one spelling
// (policy.PeerOf: punycode, lower case, no default port), or "".
func authority(raw string) string {
	peer, err := policy.PeerOf(raw)
	if err != nil {
		return ""
	}
	return peer
}

// AssertionKey is an Ed25519 key an actor lists in assertionMethod.
type AssertionKey struct {
	ID         string
	Controller string
	Public     ed25519.PublicKey
}

// KeyResolver fetches an assertion key from the domain that publishes it
// (same-origin, signed GET, egress guard).
type KeyResolver interface {
	AssertionKey(ctx context.Context, keyID string) (AssertionKey, error)
}

// Verifier verifies announcements and remembers the highest sequence
// number seen per domain. It is safe for concurrent use.
type Verifier struct {
	resolve KeyResolver
	// Permit, when set, refuses announcements of blocked domains before
	// anything is fetched from them.
	Permit func(domain string) bool
	now    func() time.Time

	// mu guards the following fields.
	mu      sync.Mutex
	highest map[string]uint64
	keys    map[string]cachedKey
}

type cachedKey struct {
	key   AssertionKey
	until time.Time
}

// NewVerifier returns a verifier that fetches keys with r.
func NewVerifier(r KeyResolver) *Verifier {
	return &Verifier{resolve: r, now: time.Now, highest: map[string]uint64{}, keys: map[string]cachedKey{}}
}

// Verify checks a signed announcement: shape, policy, validity window, the
// signing key (listed by the domain's own actor, whose controller is the
// record's actor), the signature and the sequence number. A verified
// record's sequence number becomes the one to beat.
func (v *Verifier) Verify(ctx context.Context, b []byte) (Record, error) {
	s, r, err := Parse(b)
	if err != nil {
		return r, err
	}
	if v.Permit != nil && !v.Permit(r.Domain) {
		return r, fmt.Errorf("%w: %s", ErrBlocked, r.Domain)
	}
	now := v.now()
	if !r.Expires.After(now) || r.Issued.After(now.Add(clockSkew)) || r.Expires.Sub(r.Issued) > MaxValidity {
		return r, fmt.Errorf("%w: issued %s, expires %s", ErrExpired, r.Issued.Format(time.RFC3339), r.Expires.Format(time.RFC3339))
	}
	v.mu.Lock()
	if r.Seq <= v.highest[r.Domain] {
		v.mu.Unlock()
		return r, fmt.Errorf("%w: seq %d", ErrReplay, r.Seq)
	}
	ck, ok := v.keys[s.Key]
	v.mu.Unlock()
	if !ok || now.After(ck.until) {
		k, err := v.resolve.AssertionKey(ctx, s.Key)
		if err != nil {
			return r, fmt.Errorf("%w: %v", ErrKey, err)
		}
		ck = cachedKey{key: k, until: r.Expires}
	}
	if ck.key.ID != s.Key || ck.key.Controller != r.Actor {
		return r, fmt.Errorf("%w: %s is controlled by %s, not %s", ErrKey, s.Key, ck.key.Controller, r.Actor)
	}
	if !ed25519.Verify(ck.key.Public, signingBytes(s.Record), s.Sig) {
		return r, ErrForged
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Seq <= v.highest[r.Domain] { // a newer one verified meanwhile
		return r, fmt.Errorf("%w: seq %d", ErrReplay, r.Seq)
	}
	v.highest[r.Domain] = r.Seq
	v.keys[s.Key] = ck
	return r, nil
}
