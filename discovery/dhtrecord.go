package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// DHT record layout.
const (
	// ProtocolPrefix keeps the relays' DHT apart from the public IPFS
	// one, and lets it carry the runrig record namespace.
	ProtocolPrefix = "/runrig"
	// dhtNamespace is the record namespace: a node's record lives under
	// "/runrig/<peer id>".
	dhtNamespace = "runrig"
	// envelopePrefix separates DHT envelope signatures from any other use
	// of a node's libp2p key.
	envelopePrefix = "runrig/dht-record/v1\x00"
	// maxEnvelopeBytes bounds a DHT value: an announcement in base64,
	// and a signature.
	maxEnvelopeBytes = MaxRecordBytes*4/3 + 1024
	// rendezvousPrefix names the provider keys nodes advertise under.
	rendezvousPrefix = "runrig/rendezvous/v1/"
)

// envelope is what a node stores in the DHT: its signed announcement,
// signed again with its libp2p identity so that only the owner of a peer
// id can write under that peer's key. The announcement's own signature
// (by the domain's actor) is checked by the [Verifier] on lookup.
type envelope struct {
	Announcement []byte `json:"announcement"`
	Sig          []byte `json:"sig"`
}

// RecordKey is the DHT key of a node's record.
func RecordKey(id peer.ID) string { return "/" + dhtNamespace + "/" + id.String() }

// sealEnvelope wraps a signed announcement for the DHT.
func sealEnvelope(announcement []byte, key crypto.PrivKey) ([]byte, error) {
	sig, err := key.Sign(append([]byte(envelopePrefix), announcement...))
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{Announcement: announcement, Sig: sig})
}

// openEnvelope checks a DHT value stored under key: size, the peer's
// signature, and that the announcement inside names that peer and is
// within its validity window. It returns the announcement and its record.
func openEnvelope(key string, value []byte, now time.Time) ([]byte, Record, error) {
	if len(value) > maxEnvelopeBytes {
		return nil, Record{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(value))
	}
	idStr, ok := strings.CutPrefix(key, "/"+dhtNamespace+"/")
	if !ok {
		return nil, Record{}, fmt.Errorf("%w: key %q is not in the %s namespace", ErrMalformed, key, dhtNamespace)
	}
	id, err := peer.Decode(idStr)
	if err != nil {
		return nil, Record{}, fmt.Errorf("%w: key %q: %v", ErrMalformed, key, err)
	}
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return nil, Record{}, fmt.Errorf("%w: peer id %s does not embed its key", ErrKey, id)
	}
	var env envelope
	if err := json.Unmarshal(value, &env); err != nil || len(env.Announcement) == 0 {
		return nil, Record{}, fmt.Errorf("%w: not a DHT envelope", ErrMalformed)
	}
	if ok, err := pub.Verify(append([]byte(envelopePrefix), env.Announcement...), env.Sig); err != nil || !ok {
		return nil, Record{}, fmt.Errorf("%w: envelope not signed by %s", ErrForged, id)
	}
	_, rec, err := Parse(env.Announcement)
	if err != nil {
		return nil, rec, err
	}
	if rec.PeerID != id.String() {
		return nil, rec, fmt.Errorf("%w: record names peer %q, stored under %s", ErrMalformed, rec.PeerID, id)
	}
	if err := checkWindow(rec, now); err != nil {
		return nil, rec, err
	}
	return env.Announcement, rec, nil
}

// checkWindow refuses a record outside its validity window.
func checkWindow(r Record, now time.Time) error {
	if !r.Expires.After(now) || r.Issued.After(now.Add(clockSkew)) || r.Expires.Sub(r.Issued) > MaxValidity {
		return fmt.Errorf("%w: issued %s, expires %s", ErrExpired, r.Issued.Format(time.RFC3339), r.Expires.Format(time.RFC3339))
	}
	return nil
}

// recordValidator is the DHT's validator for the runrig namespace. It
// checks what can be checked without the network: size, the envelope
// signature, the peer binding and expiry. Select prefers the highest
// sequence number, so an older record is never chosen over a newer one.
type recordValidator struct {
	now func() time.Time
}

// Validate implements record.Validator.
func (v recordValidator) Validate(key string, value []byte) error {
	_, _, err := openEnvelope(key, value, v.now())
	return err
}

// Select implements record.Validator.
func (v recordValidator) Select(key string, values [][]byte) (int, error) {
	best, bestSeq := -1, uint64(0)
	for i, val := range values {
		_, rec, err := openEnvelope(key, val, v.now())
		if err != nil {
			continue
		}
		if best < 0 || rec.Seq > bestSeq {
			best, bestSeq = i, rec.Seq
		}
	}
	if best < 0 {
		return 0, errors.New("no valid record")
	}
	return best, nil
}

// Rendezvous returns the provider key of a rendezvous point: "all", or a
// region or a listing kind when one is given (region wins).
func Rendezvous(region, kind string) cid.Cid {
	name := "all"
	switch {
	case region != "":
		name = "region/" + region
	case kind != "":
		name = "kind/" + kind
	}
	h, _ := mh.Sum([]byte(rendezvousPrefix+name), mh.SHA2_256, -1) // SHA2-256 never fails
	return cid.NewCidV1(cid.Raw, h)
}
