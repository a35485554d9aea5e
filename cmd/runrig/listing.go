package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/runrig/runrig/relay/listing"
	"github.com/runrig/runrig/relay/proof"
)

const listingUsage = `usage: runrig listing validate [--now TIME] [--json] FILE...
       runrig listing keygen --out KEYFILE
       runrig listing sign --key KEYFILE --method KEY-ID [--out FILE] FILE`

// listingCmd runs `runrig listing validate FILE...` (the relay's own
// checks, offline, for FMP developers wiring their platform) and `runrig
// listing sign` (an FEP-8b32 proof on a listing).
func listingCmd(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && args[0] == "validate":
		return listingValidate(args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "sign":
		return listingSign(args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "keygen":
		return listingKeygen(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, listingUsage)
	return 2
}

// listingValidate checks listing files with the relay's rules.
func listingValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig listing validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	now := fs.String("now", "", "check as of this RFC 3339 time instead of now (e.g. for examples with fixed dates)")
	asJSON := fs.Bool("json", false, "print JSON")
	horizon := fs.Duration("horizon", 0, "longest an offer or request may run (default 2160h, 90 days)")
	surplusHorizon := fs.Duration("surplus-horizon", 0, "longest surplus may run (default 168h, 7 days)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "runrig listing validate: name at least one FILE")
		return 2
	}
	rules := listing.Rules{Horizon: *horizon, SurplusHorizon: *surplusHorizon}
	if *now != "" {
		t, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			fmt.Fprintf(stderr, "runrig listing validate: --now: %v\n", err)
			return 2
		}
		rules.Now = t
	}
	type result struct {
		File     string            `json:"file"`
		Valid    bool              `json:"valid"`
		Kind     listing.Kind      `json:"kind,omitempty"`
		Problems []listing.Problem `json:"problems,omitempty"`
	}
	var results []result
	bad := false
	for _, name := range fs.Args() {
		r := result{File: name}
		b, err := os.ReadFile(name)
		switch {
		case err != nil:
			r.Problems = []listing.Problem{{Path: "$", Reason: "unreadable", Message: err.Error()}}
		default:
			l, problems := listing.Check(b, rules)
			r.Problems = problems
			if l != nil {
				r.Valid, r.Kind = true, l.Kind
			}
		}
		bad = bad || !r.Valid
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(results)
	} else {
		for _, r := range results {
			if r.Valid {
				fmt.Fprintf(stdout, "%s: valid %s\n", r.File, r.Kind)
				continue
			}
			for _, p := range r.Problems {
				fmt.Fprintf(stdout, "%s: %s\n", r.File, p)
			}
		}
	}
	if bad {
		return 1
	}
	return 0
}

// listingSign adds an FEP-8b32 eddsa-jcs-2022 proof to a listing (an
// object, or the activity carrying it) with an Ed25519 key, so that anyone
// the relay passes it to can check who wrote it without fetching it.
func listingSign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig listing sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "Ed25519 private key: PKCS#8 PEM (openssl genpkey -algorithm ed25519) or a private Multikey (z3u2…)")
	method := fs.String("method", "", "the key's id as your actor publishes it in assertionMethod, e.g. https://fmp.example/actor#ed25519-key")
	out := fs.String("out", "", "write the signed listing here instead of standard output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *keyFile == "" || *method == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "runrig listing sign: need --key, --method and one FILE")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "runrig listing sign: %v\n", err)
		return 1
	}
	kb, err := os.ReadFile(*keyFile)
	if err != nil {
		return fail(err)
	}
	key, err := proof.ParsePrivateKey(kb)
	if err != nil {
		return fail(err)
	}
	doc, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fail(err)
	}
	signed, err := proof.Sign(doc, key, *method, time.Now())
	if err != nil {
		return fail(err)
	}
	if *out != "" {
		if err := os.WriteFile(*out, append(signed, '\n'), 0o644); err != nil {
			return fail(err)
		}
	} else {
		stdout.Write(append(signed, '\n'))
	}
	fmt.Fprintf(stderr, "signed with %s; publish this public key in your actor's assertionMethod as a Multikey:\n  publicKeyMultibase: %s\n",
		*method, proof.EncodeMultikey(key.Public().(ed25519.PublicKey)))
	return 0
}

// listingKeygen writes a new Ed25519 private key (PKCS#8 PEM, mode 0600)
// for `listing sign`, and prints the public key to publish.
func listingKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig listing keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "the new key file (it must not exist)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "runrig listing keygen: need --out KEYFILE")
		return 2
	}
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		fmt.Fprintf(stderr, "runrig listing keygen: %v\n", err)
		return 1
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		err = errors.Join(pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}), f.Close())
	}
	if err != nil {
		fmt.Fprintf(stderr, "runrig listing keygen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s; publish this public key in your actor's assertionMethod as a Multikey:\n  publicKeyMultibase: %s\n",
		*out, proof.EncodeMultikey(pub))
	return 0
}
