package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/dfc"
	"github.com/runrig/runrig/relay/store"
)

func TestSettingsValidated(t *testing.T) {
	s := New(Config{PublicURL: "https://relay.example"})
	private := New(Config{PublicURL: "https://relay.example", Egress: policy.Egress{AllowPrivate: true}})
	ok := Settings{Name: "farm", Catalog: "https://ofn.example/api/dfc/enterprises/7/catalog_items"}
	cases := []struct {
		name  string
		svc   *Service
		edit  func(*Settings)
		wrong string // part of the error; "" for valid
	}{
		{"valid", s, func(*Settings) {}, ""},
		{"upper case name is lowered", s, func(x *Settings) { x.Name = "Farm" }, ""},
		{"name with a slash", s, func(x *Settings) { x.Name = "a/b" }, "name"},
		{"name too long", s, func(x *Settings) { x.Name = strings.Repeat("a", 41) }, "name"},
		{"not a URL", s, func(x *Settings) { x.Catalog = "ofn.example/catalog" }, "not an http(s) URL"},
		{"plain http on the internet", s, func(x *Settings) { x.Catalog = "http://ofn.example/c" }, "use https"},
		{"plain http on a local network", private, func(x *Settings) { x.Catalog = "http://127.0.0.1:9/c" }, ""},
		{"credentials in the URL", s, func(x *Settings) { x.Catalog = "https://u:p@ofn.example/c" }, "credentials"},
		{"token without auth is dropped", s, func(x *Settings) { x.Token = "t" }, ""},
		{"auth without token", s, func(x *Settings) { x.Auth = AuthAPIToken }, "token"},
		{"token with a newline", s, func(x *Settings) { x.Auth, x.Token = AuthBearer, "a\nX-Evil: 1" }, "token"},
		{"unknown auth", s, func(x *Settings) { x.Auth, x.Token = "basic", "t" }, "auth"},
		{"too often", s, func(x *Settings) { x.Every = time.Second }, "at least"},
		{"requests are not catalogs", s, func(x *Settings) { x.Kind = "request" }, "offer or surplus"},
		{"bad region", s, func(x *Settings) { x.Region = "uk sw" }, "region"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := ok
			tc.edit(&set)
			err := tc.svc.validate(&set)
			switch {
			case tc.wrong == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wrong != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wrong)):
				t.Fatalf("err %v; want one about %q", err, tc.wrong)
			case tc.wrong == "" && (set.Kind != "offer" || set.Every != DefaultEvery || set.Name != "farm"):
				t.Fatalf("defaults not filled: %+v", set)
			}
		})
	}
}

// TestReadBoundsAndCredentials: the token goes only to the catalog's host
// (a redirect elsewhere is refused), a catalog over the bound is refused,
// 304 keeps the validators and 401 says what to do.
func TestReadBoundsAndCredentials(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("X-Api-Token") + r.Header.Get("Authorization")
		w.Write([]byte(`{}`))
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		// another port is another host: the token must not follow
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/c", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 2048)) })
	mux.HandleFunc("/same", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write([]byte(`{}`))
	})
	mux.HandleFunc("/locked", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	mux.HandleFunc("/always-304", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := New(Config{Egress: policy.Egress{AllowPrivate: true}, MaxBytes: 1024})
	ctx := context.Background()

	if _, err := s.read(ctx, srv.URL+"/elsewhere", AuthAPIToken, "s3cret", "", ""); err == nil || leaked != "" {
		t.Fatalf("redirect to another host: err %v, token seen there %q", err, leaked)
	}
	if _, err := s.read(ctx, srv.URL+"/big", "", "", "", ""); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large catalog: %v", err)
	}
	f, err := s.read(ctx, srv.URL+"/same", "", "", "", "")
	if err != nil || f.etag != `"v1"` {
		t.Fatalf("first read: %+v %v", f, err)
	}
	if f, err = s.read(ctx, srv.URL+"/same", "", "", `"v1"`, ""); err != nil || !f.notModified || f.etag != `"v1"` {
		t.Fatalf("conditional read: %+v %v", f, err)
	}
	if _, err := s.read(ctx, srv.URL+"/locked", "", "", "", ""); !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "needs a token") {
		t.Fatalf("401 without a token: %v", err)
	}
	if _, err := s.read(ctx, srv.URL+"/always-304", "", "", "", ""); !errors.Is(err, ErrCatalogStatus) {
		t.Fatalf("304 to an unconditional request: %v", err)
	}
	blocked := New(Config{Egress: policy.Egress{AllowPrivate: true}, Permit: func(string) bool { return false }})
	if _, err := blocked.read(ctx, srv.URL+"/same", "", "", "", ""); !errors.Is(err, ErrRefusedHost) {
		t.Fatalf("blocked host: %v", err)
	}
	guarded := New(Config{}) // the default egress guard refuses loopback
	if _, err := guarded.read(ctx, srv.URL+"/same", "", "", "", ""); !errors.Is(err, policy.ErrForbiddenAddress) {
		t.Fatalf("loopback through the egress guard: %v", err)
	}
}

// TestSignerRingFailsClosed: a bridge key id without a signer is an
// error, never signed with the relay's key; key ids of other actors are
// not the ring's.
func TestSignerRingFailsClosed(t *testing.T) {
	s := New(Config{PublicURL: "https://relay.example"})
	if sg, ours := s.Signer("https://relay.example/actors/bridge-gone#main-key"); sg != nil || !ours {
		t.Fatalf("unknown bridge: %v %v; want (nil, true)", sg, ours)
	}
	for _, id := range []string{"https://relay.example/actor#main-key", "https://relay.example/actors/offers#main-key",
		"https://relay.example/actors/bridge-Bad!#main-key", "https://other.example/actors/bridge-a#main-key"} {
		if _, ours := s.Signer(id); ours {
			t.Errorf("%s taken for a bridge's key", id)
		}
	}
}

// TestSkippedItemsLoggedOnce: a skipped item is logged when it is first
// skipped, not at every sync; a flood is cut short.
func TestSkippedItemsLoggedOnce(t *testing.T) {
	var buf strings.Builder
	s := New(Config{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	p := func(item string) dfc.Problem { return dfc.Problem{Item: item, Reason: "not_positive"} }
	before, _ := json.Marshal([]dfc.Problem{p("a")})
	s.logNewProblems("farm", before, []dfc.Problem{p("a"), p("b")})
	if n := strings.Count(buf.String(), "bridge skipped a catalog item"); n != 1 || !strings.Contains(buf.String(), "item=b") {
		t.Fatalf("logged %d: %s", n, buf.String())
	}
	buf.Reset()
	var many []dfc.Problem
	for i := 0; i < 3*maxLoggedProblems; i++ {
		many = append(many, p(strconv.Itoa(i)))
	}
	s.logNewProblems("farm", nil, many)
	if n := strings.Count(buf.String(), "bridge skipped a catalog item"); n != maxLoggedProblems || !strings.Contains(buf.String(), "bridge skipped more items") {
		t.Fatalf("logged %d of a flood", n)
	}
}

// TestHoldWithdrawals: most of a bridge's listings go only when two reads
// in a row name the same ones; a read naming others is held again, and a
// small withdrawal is never held.
func TestHoldWithdrawals(t *testing.T) {
	s := New(Config{})
	listed := map[string]store.BridgeItem{}
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		listed[id] = store.BridgeItem{Item: id}
	}
	offering := func(ids ...string) *dfc.Catalog {
		c := &dfc.Catalog{}
		for _, id := range ids {
			c.Items = append(c.Items, dfc.Item{ID: id})
		}
		return c
	}
	steps := []struct {
		cat  *dfc.Catalog
		hold bool
	}{
		{offering("a", "b", "c", "d"), false}, // 2 of 6 go: not held
		{offering("a"), true},                 // 5 go: held
		{offering("b"), true},                 // 5 others go: held again
		{offering("b"), false},                // the same 5 again: they go
		{offering("a"), true},                 // a new mass withdrawal: held
	}
	for i, st := range steps {
		if got := s.holdWithdrawals("farm", st.cat, listed); got != st.hold {
			t.Fatalf("step %d: hold %v; want %v", i+1, got, st.hold)
		}
	}
}
