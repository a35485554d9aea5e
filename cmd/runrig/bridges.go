package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runrig/runrig/relay/admin"
)

// bridgeFlags are the flags of the bridges commands.
type bridgeFlags struct {
	asJSON                            bool
	catalog, apiTokenFile, bearerFile string
	every, region, kind, reason       string
}

// bridgesCmd: bridges [list] | add NAME --catalog URL ... | sync NAME |
// remove NAME.
func bridgesCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	verb := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	f := bridgeFlags{asJSON: asJSON}
	fs := cmdFlags("bridges "+verb, &f.asJSON, stderr)
	fs.StringVar(&f.catalog, "catalog", "", "add: the DFC catalog's URL, e.g. https://ofn.example/api/dfc/enterprises/7/catalog_items")
	fs.StringVar(&f.apiTokenFile, "api-token-file", "", "add: a file holding the catalog server's API token (sent as X-Api-Token, as Open Food Network takes it)")
	fs.StringVar(&f.bearerFile, "bearer-token-file", "", "add: a file holding an OIDC bearer token for the catalog server")
	fs.StringVar(&f.every, "every", "15m", "add: how often the catalog is read (at least 1m)")
	fs.StringVar(&f.region, "region", "", "add: the region code its listings are for")
	fs.StringVar(&f.kind, "kind", "offer", "add: what its listings are: offer or surplus")
	fs.StringVar(&f.reason, "reason", "", "add, remove: why (recorded in the audit log)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	run := map[string]func(*admin.Client, []string, bridgeFlags, io.Writer, io.Writer) int{
		"list": bridgesList, "add": bridgesAdd, "sync": bridgesSync, "remove": bridgesRemove,
	}[verb]
	if run == nil && isHelp(verb) {
		fmt.Fprintf(stderr, "runrig admin bridges VERB: one of list, add, sync, remove; runrig admin bridges VERB --help gives its flags\n")
		return 0
	}
	if run == nil {
		fmt.Fprintf(stderr, "runrig admin bridges: unknown %q (list, add, sync, remove)\n", verb)
		return 2
	}
	return run(c, pos, f, stdout, stderr)
}

func bridgesAdd(c *admin.Client, pos []string, f bridgeFlags, stdout, stderr io.Writer) int {
	if len(pos) != 1 || f.catalog == "" {
		fmt.Fprintln(stderr, "runrig admin bridges add: want NAME --catalog URL [--api-token-file F | --bearer-token-file F]")
		return 2
	}
	req := admin.BridgeAdd{Name: pos[0], Catalog: f.catalog, Every: f.every, Region: f.region, Kind: f.kind, Reason: f.reason}
	file := ""
	switch {
	case f.apiTokenFile != "" && f.bearerFile != "":
		fmt.Fprintln(stderr, "runrig admin bridges add: give --api-token-file or --bearer-token-file, not both")
		return 2
	case f.apiTokenFile != "":
		req.Auth, file = "api-token", f.apiTokenFile
	case f.bearerFile != "":
		req.Auth, file = "bearer", f.bearerFile
	}
	if file != "" {
		tok, err := readToken(file)
		if err != nil {
			fmt.Fprintln(stderr, "runrig admin bridges add:", err)
			return 1
		}
		req.Token = tok
	}
	ctx, cancel := modCtx()
	defer cancel()
	b, err := c.Bridges().Add(ctx, req)
	return report(stdout, stderr, f.asJSON, b, err, func(w io.Writer) {
		fmt.Fprintf(w, "bridge %s added: it publishes as %s, reading %s every %s\n", b.Name, b.Actor, b.Catalog, b.Every)
		fmt.Fprintf(w, "its first sync runs within a minute; or now: runrig admin bridges sync %s\n", b.Name)
	})
}

// readToken reads a token file: one line, at most 4 KiB.
func readToken(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.Size() > 4096 {
		return "", fmt.Errorf("%s: a token file holds one token of at most 4096 bytes", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("%s: want one line holding the token", path)
	}
	return tok, nil
}

func bridgesList(c *admin.Client, _ []string, f bridgeFlags, stdout, stderr io.Writer) int {
	ctx, cancel := modCtx()
	defer cancel()
	bs, err := c.Bridges().List(ctx)
	return report(stdout, stderr, f.asJSON, bs, err, func(w io.Writer) {
		if len(bs) == 0 {
			fmt.Fprintln(w, "no bridges yet: runrig admin bridges add NAME --catalog URL")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tENTERPRISE\tKIND\tLISTED\tSOLD OUT\tSKIPPED\tLAST SYNC\tSTATE")
		for _, b := range bs {
			state := "ok"
			switch {
			case b.Retired:
				state = "removed"
			case b.LastError != "":
				state = "failing"
			case b.LastSuccess.IsZero():
				state = "not synced yet"
			case b.Held > 0:
				state = fmt.Sprintf("holding %d withdrawals", b.Held)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", b.Name, orDash(b.DisplayName), b.Kind, b.Listed, b.SoldOut,
				b.Skipped, ago(b.LastAttempt), state)
		}
		tw.Flush()
		for _, b := range bs {
			if b.LastError != "" {
				fmt.Fprintf(w, "%s: last sync failed: %s\n", b.Name, b.LastError)
			}
			for _, p := range b.Problems {
				fmt.Fprintf(w, "%s: skipped %s: %s (%s)\n", b.Name, p.Item, p.Message, p.Reason)
			}
		}
	})
}

func bridgesSync(c *admin.Client, pos []string, f bridgeFlags, stdout, stderr io.Writer) int {
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "runrig admin bridges sync: want NAME")
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	start := time.Now()
	m := newMeter(stderr, "syncing "+pos[0], f.asJSON)
	r, err := c.Bridges().SyncProgress(ctx, pos[0], m.progressFunc())
	m.Done()
	return report(stdout, stderr, f.asJSON, r, err, func(w io.Writer) {
		if r.NotModified {
			fmt.Fprintf(w, "%s: the catalog has not changed\n", pos[0])
			return
		}
		fmt.Fprintf(w, "%s: %d created, %d updated, %d renewed, %d deleted, %d unchanged, %d sold out, %d skipped in %s\n", pos[0],
			r.Created, r.Updated, r.Renewed, r.Deleted, r.Unchanged, r.SoldOut, r.Skipped, time.Since(start).Round(time.Millisecond))
		if r.Held > 0 {
			fmt.Fprintf(w, "  %d withdrawals held back: most of the bridge's listings would go at once; they go if the next read says the same\n", r.Held)
		}
		if r.Deferred > 0 {
			fmt.Fprintf(w, "  %d changes left for the next sync (at most 1,000 a sync)\n", r.Deferred)
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  skipped %s: %s (%s)\n", p.Item, p.Message, p.Reason)
		}
	})
}

func bridgesRemove(c *admin.Client, pos []string, f bridgeFlags, stdout, stderr io.Writer) int {
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "runrig admin bridges remove: want NAME")
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	r, err := c.Bridges().Remove(ctx, pos[0], f.reason)
	return report(stdout, stderr, f.asJSON, r, err, func(w io.Writer) {
		fmt.Fprintf(w, "bridge %s removed; the Deletes of its %d listings are queued\n", pos[0], r.Withdrawn)
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
