package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runrig/runrig/relay/proof"
)

// `runrig listing sign` adds a proof that verifies with the key it was
// given, names the Multikey to publish, and refuses to run without a key.
func TestListingSign(t *testing.T) {
	dir := t.TempDir()
	pub, key, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(dir, "ed25519.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	out := filepath.Join(dir, "signed.json")
	say := runCLI(t, "listing", "sign", "--key", keyFile, "--method", "https://fmp.example/actor#ed25519-key",
		"--out", out, filepath.Join("..", "..", "relay", "listing", "testdata", "offer.json"))
	if !strings.Contains(say, proof.EncodeMultikey(pub)) {
		t.Errorf("output does not name the Multikey to publish:\n%s", say)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proof.VerifyKey(signed, pub)
	if err != nil || p.VerificationMethod != "https://fmp.example/actor#ed25519-key" {
		t.Fatalf("signed listing: %+v %v", p, err)
	}
	genFile := filepath.Join(dir, "new.pem")
	say = runCLI(t, "listing", "keygen", "--out", genFile)
	if fi, err := os.Stat(genFile); err != nil || fi.Mode().Perm() != 0o600 || !strings.Contains(say, "publicKeyMultibase: z6Mk") {
		t.Errorf("keygen: %v %v\n%s", fi, err, say)
	}
	if b, _ := os.ReadFile(genFile); !strings.Contains(say, keyOf(t, b)) {
		t.Errorf("keygen printed another key than it wrote:\n%s", say)
	}
	cmd := exec.Command(binary, "listing", "sign", "--method", "x", out)
	var ee *exec.ExitError
	if b, err := cmd.CombinedOutput(); !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(b), "--key") {
		t.Errorf("without --key: %v %s", err, b)
	}
}

// keyOf is the Multikey of a key file's public key.
func keyOf(t *testing.T, pemKey []byte) string {
	k, err := proof.ParsePrivateKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	return proof.EncodeMultikey(k.Public().(ed25519.PublicKey))
}
