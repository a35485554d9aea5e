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
