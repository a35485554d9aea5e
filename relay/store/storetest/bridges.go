package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// testBridges: bridges are created once per name, their sync state and
// items persist across a restart, an item is recorded atomically with its
// deliveries and listing, a retired bridge takes no new items but keeps
// its keys, and adding its name again brings it back with them.
func testBridges(t *testing.T, open Opener) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	bs := db.Bridges()
	now := time.Now().Truncate(time.Millisecond)
	b := store.Bridge{Name: "farm", CatalogURL: "https://ofn.example/catalog", Auth: "api-token", Token: "t",
		Every: 15 * time.Minute, Region: "uk", Kind: "offer", KeyPEM: "PEM", Ed25519Seed: make([]byte, 32), Created: now}
	audit := store.AuditEntry{Who: "op", What: "bridge.add", Subject: "farm"}
	if err := bs.CreateBridge(ctx, b, audit); err != nil {
		t.Fatal(err)
	}
	if err := bs.CreateBridge(ctx, b, audit); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v; want ErrExists", err)
	}
	if _, err := bs.Bridge(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing bridge: %v", err)
	}
	sync := store.BridgeSync{ActorName: "Farm", ETag: `"e1"`, LastAttempt: now, LastSuccess: now, Listed: 3, Skipped: 1,
		Problems: []byte(`[{"item":"x"}]`)}
	if err := bs.SaveBridgeSync(ctx, "farm", sync); err != nil {
		t.Fatal(err)
	}
	if err := bs.SaveBridgeSync(ctx, "nope", sync); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("sync of a missing bridge: %v", err)
	}
	item := store.BridgeItem{Bridge: "farm", Item: "https://ofn.example/items/1", ListingID: "https://relay.example/l/1",
		Hash: "h1", Published: now, End: now.Add(time.Hour)}
	listing := &store.ListingRecord{ID: item.ListingID, Actor: "https://relay.example/actors/bridge-farm", Peer: "relay.example",
		Kind: "offer", Name: "Beans", End: now.Add(time.Hour), Activity: []byte(`{}`), ReceivedAt: now}
	if err := db.Apply(ctx, store.Change{PutBridgeItem: &item, PutListing: listing,
		Messages: []store.Message{msg("https://relay.example/a/1", "p1")}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = open(t, dir) // a restart keeps everything
	defer db.Close()
	bs = db.Bridges()
	got, err := bs.Bridge(ctx, "farm")
	if err != nil || got.ActorName != "Farm" || got.ETag != `"e1"` || got.Listed != 3 || got.Token != "t" ||
		got.Every != 15*time.Minute || !got.LastSuccess.Equal(now) || string(got.Problems) != `[{"item":"x"}]` || !got.Retired.IsZero() {
		t.Fatalf("bridge after restart: %+v %v", got, err)
	}
	items, err := bs.BridgeItems(ctx, "farm")
	if err != nil || len(items) != 1 || items[0].Hash != "h1" || !items[0].End.Equal(item.End) {
		t.Fatalf("items: %+v %v", items, err)
	}
	if err := bs.RetireBridge(ctx, "farm", store.AuditEntry{Who: "op", What: "bridge.remove", Subject: "farm"}); err != nil {
		t.Fatal(err)
	}
	if err := bs.RetireBridge(ctx, "farm", audit); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retiring twice: %v", err)
	}
	late := item
	late.Item, late.Hash = "https://ofn.example/items/2", "h2"
	if err := db.Apply(ctx, store.Change{PutBridgeItem: &late, Messages: []store.Message{msg("https://relay.example/a/2", "p1")}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an item for a retired bridge: %v; want ErrNotFound and nothing written", err)
	}
	if depth, err := db.QueueDepth(ctx); err != nil || depth[store.Queued] != 1 {
		t.Fatalf("queue %v %v: the refused change's delivery was written", depth, err)
	}
	if err := db.Apply(ctx, store.Change{DeleteBridgeItem: &store.BridgeItemKey{Bridge: "farm", Item: item.Item}}); err != nil {
		t.Fatal(err)
	}
	if items, _ := bs.BridgeItems(ctx, "farm"); len(items) != 0 {
		t.Fatalf("items after delete: %+v", items)
	}
	b.KeyPEM, b.CatalogURL = "OTHER", "https://ofn.example/new"
	if err := bs.CreateBridge(ctx, b, audit); err != nil {
		t.Fatal(err)
	}
	if got, _ := bs.Bridge(ctx, "farm"); got.KeyPEM != "PEM" || got.CatalogURL != "https://ofn.example/new" || !got.Retired.IsZero() {
		t.Fatalf("revived bridge: %+v; want its old key and the new catalog", got)
	}
	if all, err := bs.Bridges(ctx); err != nil || len(all) != 1 {
		t.Fatalf("bridges: %v %v", all, err)
	}
}
