package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/runrig/runrig/relay/listing"
)

// listingCmd runs `runrig listing validate FILE...`: the relay's own
// checks, offline, for FMP developers wiring their platform.
func listingCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprintln(stderr, "usage: runrig listing validate [--now TIME] [--json] FILE...")
		return 2
	}
	fs := flag.NewFlagSet("runrig listing validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	now := fs.String("now", "", "check as of this RFC 3339 time instead of now (e.g. for examples with fixed dates)")
	asJSON := fs.Bool("json", false, "print JSON")
	horizon := fs.Duration("horizon", 0, "longest an offer or request may run (default 2160h, 90 days)")
	surplusHorizon := fs.Duration("surplus-horizon", 0, "longest surplus may run (default 168h, 7 days)")
	if err := fs.Parse(args[1:]); err != nil {
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
