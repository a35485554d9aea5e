package relay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/bridge"
	"github.com/runrig/runrig/relay/store"
)

// A removal that stopped half-way (the bridge retired, its listings not
// yet withdrawn) is finished by removing it again.
func TestBridgeRemovalResumes(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile("dfc/testdata/fdc-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(fixture) }))
	defer shop.Close()
	s, _ := newInternal(t, nil)
	op := policy.Operator{Who: "test"}
	if _, err := s.svc.bridges.Add(ctx, op, bridge.Settings{Name: "shop", Catalog: shop.URL + "/c"}); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.svc.bridges.Sync(ctx, "shop"); err != nil || rep.Created != 6 {
		t.Fatalf("sync: %+v %v", rep, err)
	}
	// Stopped half-way: retired, nothing withdrawn.
	if err := s.store.Bridges().RetireBridge(ctx, "shop", store.AuditEntry{Who: "test", What: "bridge.remove", Subject: "shop"}); err != nil {
		t.Fatal(err)
	}
	n, err := s.svc.bridges.Remove(ctx, op, "shop")
	if err != nil || n != 6 {
		t.Fatalf("removing again: %d withdrawn, %v; want the 6 left", n, err)
	}
	if items, _ := s.store.Bridges().BridgeItems(ctx, "shop"); len(items) != 0 {
		t.Fatalf("%d items left", len(items))
	}
	if _, err := s.svc.bridges.Remove(ctx, op, "nope"); err == nil {
		t.Fatal("removing a bridge that never was succeeded")
	}
}
