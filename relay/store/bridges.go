package store

import (
	"context"
	"time"
)

// Bridges holds the relay's Data Food Consortium bridges: catalogs it
// reads on a schedule and publishes as listings, each as an actor of its
// own, and the catalog items each has listed.
type Bridges interface {
	// Bridges returns every bridge, by name.
	Bridges(ctx context.Context) ([]Bridge, error)
	// Bridge returns the bridge name, or ErrNotFound.
	Bridge(ctx context.Context, name string) (Bridge, error)
	// CreateBridge adds a bridge, with its audit entry; ErrExists when
	// the name is taken. A retired bridge of that name comes back with the
	// new settings and its old keys, so its actor stays the same.
	CreateBridge(ctx context.Context, b Bridge, audit AuditEntry) error
	// SaveBridgeSync records how a sync went; ErrNotFound when the bridge
	// was removed meanwhile.
	SaveBridgeSync(ctx context.Context, name string, s BridgeSync) error
	// BridgeItems returns what the bridge has listed, by catalog item.
	BridgeItems(ctx context.Context, name string) ([]BridgeItem, error)
	// RetireBridge stops a bridge, with its audit entry; ErrNotFound when
	// there is none. Its actor and keys stay, so the Deletes of its
	// listings still verify wherever they are delivered.
	RetireBridge(ctx context.Context, name string, audit AuditEntry) error
}

// Bridge is one DFC catalog the relay publishes.
type Bridge struct {
	// Name is the operator's name for it; its actor is /actors/bridge-NAME.
	Name string
	// CatalogURL is where the catalog is read.
	CatalogURL string
	// Auth is how the catalog server is asked: "" (no credentials),
	// "api-token" (an X-Api-Token header, as Open Food Network takes) or
	// "bearer" (an Authorization: Bearer header); Token is the secret.
	Auth, Token string
	// Every is how often the catalog is read.
	Every time.Duration
	// Region is the region code its listings are for ("" for none); Kind
	// what they are: "offer" or "surplus".
	Region, Kind string
	// KeyPEM is the bridge actor's RSA private key (PKCS#8 PEM) and
	// Ed25519Seed its Ed25519 key's seed: it signs as itself.
	KeyPEM      string
	Ed25519Seed []byte
	Created     time.Time
	// Retired is when an operator removed it (zero while it runs).
	Retired time.Time
	BridgeSync
}

// BridgeSync is how a bridge's last sync went.
type BridgeSync struct {
	// ActorName is the enterprise's name as the catalog gives it.
	ActorName string
	// ETag and LastModified are the catalog's validators, sent back as
	// If-None-Match and If-Modified-Since.
	ETag, LastModified string
	// LastAttempt is when it was last read, LastSuccess when a read last
	// worked; LastError says why the last one failed ("" when it worked).
	LastAttempt, LastSuccess time.Time
	LastError                string
	// Listed, SoldOut and Skipped count the catalog items listed, not
	// offered for want of stock, and refused, as of the last good read;
	// Held the withdrawals held back until a second read agrees.
	Listed, SoldOut, Skipped, Held int
	// Problems describes the refused items (JSON, bounded).
	Problems []byte
}

// BridgeItem is one catalog item a bridge lists.
type BridgeItem struct {
	Bridge string
	// Item is the CatalogItem's IRI; ListingID the listing's.
	Item, ListingID string
	// Hash identifies what was published: a changed item has another.
	Hash string
	// Published is when it was first listed, Updated when last changed,
	// End when its listing lapses unless renewed.
	Published, Updated, End time.Time
}

// BridgeItemKey names one catalog item of one bridge.
type BridgeItemKey struct {
	Bridge, Item string
}
