package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/runrig/runrig/relay/admin"
)

// selfCmd: self — this relay's signed discovery announcement, printed
// exactly as signed: re-indenting it would change the signed record bytes.
func selfCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("self", &asJSON, stderr)
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	b, err := c.Self(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "runrig admin self:", err)
		return 1
	}
	stdout.Write(b)
	fmt.Fprintln(stdout)
	return 0
}

// peersCmd: peers [add URL] — the discovery directory.
func peersCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("peers", &asJSON, stderr)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	if len(pos) == 2 && pos[0] == "add" {
		rec, err := c.AddPeer(ctx, pos[1])
		return report(stdout, stderr, asJSON, rec, err, func(w io.Writer) { fmt.Fprintf(w, "verified and added %s\n", pos[1]) })
	}
	peers, err := c.Peers(ctx)
	return report(stdout, stderr, asJSON, peers, err, func(w io.Writer) {
		if len(peers) == 0 {
			fmt.Fprintln(w, "no peers discovered yet")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DOMAIN\tSTATE\tSOURCES\tREGIONS\tTRUST\tPOLICY\tFOLLOWING\tSOFTWARE\tLAST SEEN")
		for _, p := range peers {
			state := "up"
			if p.Down {
				state = "down"
			}
			following := p.Following
			if following == "" {
				following = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Domain, state, strings.Join(p.Sources, ","),
				strings.Join(p.Regions, ","), p.Trust, p.Policy, following, p.Software, ago(p.LastSeen))
		}
		tw.Flush()
	})
}

// discoverCmd: discover [--region CODE] [--kind offer|request|surplus].
func discoverCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("discover", &asJSON, stderr)
	region := fs.String("region", "", "only peers serving this region")
	kind := fs.String("kind", "", "only peers carrying this listing kind")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	peers, err := c.Discover(ctx, *region, *kind)
	return report(stdout, stderr, asJSON, peers, err, func(w io.Writer) {
		if len(peers) == 0 {
			fmt.Fprintln(w, "no verified peer matches")
		}
		for _, p := range peers {
			fmt.Fprintf(w, "%s  %s  regions %s  kinds %s\n", p.Domain, p.Inbox, strings.Join(p.Regions, ","), strings.Join(p.Kinds, ","))
			for _, m := range p.Members {
				fmt.Fprintf(w, "  member %s  %s  regions %s  kinds %s\n", m.Domain, m.Actor, strings.Join(m.Regions, ","), strings.Join(m.Kinds, ","))
			}
		}
	})
}
