package settings

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	cfg, lg, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.PublicURL != "http://127.0.0.1:8080" || cfg.DataDir != "./data" ||
		cfg.AllowPrivateNetworks || cfg.Approval != "auto" || lg.Format != "text" {
		t.Fatalf("defaults = %+v %+v", cfg, lg)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "runrig.toml")
	os.WriteFile(file, []byte("listen = \"127.0.0.1:1\"\npublic_url = \"https://file.example\"\napproval = \"manual\"\nretry_base = \"2s\"\nallow_private_networks = true\n"), 0o600)
	cfg, _, err := Load([]string{"--config", file, "--listen", "127.0.0.1:3"},
		env(map[string]string{"RUNRIG_LISTEN": "127.0.0.1:2", "RUNRIG_PUBLIC_URL": "https://env.example"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:3" || cfg.PublicURL != "https://env.example" || cfg.Approval != "manual" ||
		cfg.Delivery.RetryBase != 2*time.Second || !cfg.AllowPrivateNetworks {
		t.Fatalf("cfg = %+v", cfg)
	}
}

func TestErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	n := 0
	write := func(s string) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("c%d.toml", n))
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--approval", "sometimes"}, nil, "want auto or manual"},
		{nil, map[string]string{"RUNRIG_RETRY_BASE": "soon"}, "RUNRIG_RETRY_BASE"},
		{[]string{"--config", write("listen = \"x\"\nlisten_adress = \"y\"\n")}, nil, `unknown key "listen_adress"`},
		{[]string{"--config", write("listen = \n")}, nil, "line"},
		{[]string{"--config", write("max_attempts = \"many\"\n")}, nil, "max_attempts"},
		{[]string{"--config", filepath.Join(dir, "missing.toml")}, nil, "config file"},
		{[]string{"stray"}, nil, "unexpected argument"},
		{[]string{"--region", "it-bg"}, nil, `use "regions"`},
		{nil, map[string]string{"RUNRIG_REGION": "it-bg"}, `use "regions"`},
		{[]string{"--config", write("region = \"it-bg\"\n")}, nil, `use "regions"`},
	}
	for _, tt := range tests {
		_, _, err := Load(tt.args, env(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v, %v) = %v, want error containing %q", tt.args, tt.env, err, tt.want)
		}
	}
}

// The example configuration shipped in deploy/ is valid and documents
// every setting.
func TestExampleConfigIsComplete(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "runrig.example.toml")
	cfg, _, err := Load([]string{"--config", path}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublicURL != "https://relay.example" || cfg.Delivery.MaxAttempts != 20 {
		t.Fatalf("example config = %+v", cfg)
	}
	b, _ := os.ReadFile(path)
	for _, st := range all() {
		if !strings.Contains(string(b), "\n"+fileKey(st.name)+" = ") {
			t.Errorf("deploy/runrig.example.toml does not document %s", fileKey(st.name))
		}
	}
}

// `runrig config example` prints every setting, and what it prints is a
// valid configuration.
func TestExampleIsCompleteAndValid(t *testing.T) {
	var b strings.Builder
	if err := Example(&b); err != nil {
		t.Fatal(err)
	}
	for _, st := range all() {
		if !strings.Contains(b.String(), "\n"+fileKey(st.name)+" = ") && !strings.Contains(b.String(), "\n# "+fileKey(st.name)+" = ") {
			t.Errorf("example lacks %s", fileKey(st.name))
		}
	}
	path := filepath.Join(t.TempDir(), "runrig.toml")
	os.WriteFile(path, []byte(b.String()), 0o600)
	cfg, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if def := relay.Defaults(); cfg.Listen != def.Listen || cfg.PublicURL != def.PublicURL {
		t.Errorf("example does not hold the defaults: %+v", cfg)
	}
	for _, tc := range []struct{ file, want string }{
		{"bogus = 1\n", `unknown key "bogus"`},
		{"inbound_rate = \"fast\"\n", "inbound_rate"},
		{"public_url = \"ftp://relay.example\"\n", "public_url"},
		{"gossip_key = \"c2hvcnQ=\"\n", "gossip_key"},
		{"dht_bootstrap = \"/ip4/1.2.3.4/tcp/4001\"\n", "dht_bootstrap"},
		{"listen = [1, 2\n", "runrig.toml"},
	} {
		os.WriteFile(path, []byte(tc.file), 0o600)
		if _, err := Check(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%q) = %v, want an error naming %q", tc.file, err, tc.want)
		}
	}
}

// Every commented-out line of `runrig config example` stays valid when
// uncommented, and uncommenting changes nothing: the example writes each
// default as a value the file accepts.
func TestExampleLinesValidWhenUncommented(t *testing.T) {
	var b strings.Builder
	if err := Example(&b); err != nil {
		t.Fatal(err)
	}
	var out []string
	uncommented := 0
	for _, line := range strings.Split(b.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "# "); ok && strings.Contains(rest, " = ") {
			line = rest
			uncommented++
		}
		out = append(out, line)
	}
	if uncommented == 0 {
		t.Fatal("no commented-out setting in the example; the test checks nothing")
	}
	dir := t.TempDir()
	plain, all := filepath.Join(dir, "plain.toml"), filepath.Join(dir, "all.toml")
	os.WriteFile(plain, []byte(b.String()), 0o600)
	os.WriteFile(all, []byte(strings.Join(out, "\n")), 0o600)
	want, err := Check(plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Check(all)
	if err != nil {
		t.Fatalf("example with its %d commented settings uncommented: %v", uncommented, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("uncommenting changed the configuration:\n got %+v\nwant %+v", got, want)
	}
	if def := relay.Defaults(); got.Delivery.CircuitBase != def.Delivery.CircuitBase || got.InboundBurst != def.InboundBurst ||
		got.Name != def.Name || got.Federation.MaxHops != def.Federation.MaxHops {
		t.Errorf("example does not hold the defaults: %+v", got)
	}
}

// `runrig serve --help` shows each setting's default once, and only a real
// one.
func TestHelpShowsEachDefaultOnce(t *testing.T) {
	var b strings.Builder
	Load([]string{"--help"}, env(nil), &b)
	for _, st := range all() {
		i := strings.Index(b.String()+"\n", "  --"+st.name+" ")
		if i < 0 {
			i = strings.Index(b.String(), "  --"+st.name+"\n")
		}
		if i < 0 {
			t.Errorf("help lacks --%s", st.name)
			continue
		}
		entry := b.String()[i:]
		if j := strings.Index(entry[4:], "\n  --"); j >= 0 {
			entry = entry[:j+4]
		}
		if head, _, _ := strings.Cut(entry, "\n"); !st.bool && !strings.HasSuffix(head, " TEXT") &&
			!strings.HasSuffix(head, " NUMBER") && !strings.HasSuffix(head, " DURATION") {
			t.Errorf("help of --%s does not name its type: %q", st.name, head)
		}
		if n := strings.Count(entry, "default"); n > 1 || strings.Contains(entry, "default default") ||
			strings.Contains(entry, "default none") || strings.Contains(entry, "default )") {
			t.Errorf("help of -%s: %q", st.name, entry)
		}
	}
	if !strings.Contains(b.String(), "(env RUNRIG_CIRCUIT_PAUSE, default 15s)") {
		t.Errorf("help does not show the circuit pause's default:\n%s", b.String())
	}
}

// README.md's settings table is the one Table produces: it cannot drift
// from the settings (regenerate it with `runrig config table`).
func TestReadmeSettingsTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- settings: runrig config table -->\n", "<!-- end of settings -->"
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the settings table between %q and %q", begin, end)
	}
	var want strings.Builder
	if err := Table(&want); err != nil {
		t.Fatal(err)
	}
	if got := readme[i+len(begin) : j]; got != want.String() {
		t.Errorf("README.md's settings table differs from the settings; paste `runrig config table` between the markers:\n%s", want.String())
	}
}

// Left at its default, the public URL follows --listen: a relay moved to
// another port does not send peers to the default one.
func TestPublicURLFollowsListen(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "http://127.0.0.1:8080"},
		{[]string{"--listen", "127.0.0.1:8081"}, "http://127.0.0.1:8081"},
		{[]string{"--listen", ":9000"}, "http://127.0.0.1:9000"},
		{[]string{"--listen", "0.0.0.0:9000"}, "http://127.0.0.1:9000"},
		{[]string{"--listen", "[::1]:9000"}, "http://[::1]:9000"},
		{[]string{"--listen", "127.0.0.1:8081", "--public-url", "https://relay.example"}, "https://relay.example"},
	} {
		cfg, _, err := Load(c.args, env(nil), io.Discard)
		if err != nil || cfg.PublicURL != c.want {
			t.Errorf("Load(%v): public URL %q, %v; want %q", c.args, cfg.PublicURL, err, c.want)
		}
	}
}
