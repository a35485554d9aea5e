package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runrig/runrig/relay/admin"
)

// command runs one admin command against a running relay.
type command func(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int

// commands are the admin commands that are not about moderation or
// discovery (those are in moderationCommands).
var commands = map[string]command{
	"subscribers": subscribersCmd,
	"approve": func(c *admin.Client, a []string, j bool, o, e io.Writer) int {
		return decideCmd(c, "approve", a, j, o, e)
	},
	"reject": func(c *admin.Client, a []string, j bool, o, e io.Writer) int {
		return decideCmd(c, "reject", a, j, o, e)
	},
	"remove": func(c *admin.Client, a []string, j bool, o, e io.Writer) int {
		return decideCmd(c, "remove", a, j, o, e)
	},
	"deliveries": deliveriesCmd,
	"replicas":   replicasCmd,
}

func adminCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDefault := os.Getenv("RUNRIG_DATA")
	if dataDefault == "" {
		dataDefault = "./data"
	}
	data := fs.String("data", dataDefault, "data directory of the running relay (env RUNRIG_DATA)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() { fmt.Fprintln(stderr, "run `runrig admin --help` for the admin commands") }
	args, dataArg := takeData(args)
	if dataArg != "" {
		*data = dataArg
	}
	if len(args) > 0 && (args[0] == "help" || isHelp(args[0])) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// Flags may also follow the command: runrig admin subscribers --json.
	name, cmdArgs := rest[0], rest[1:]
	run, ok := commands[name]
	if !ok {
		run, ok = moderationCommands[name]
	}
	if !ok {
		fmt.Fprintf(stderr, "runrig admin: unknown command %q\n\n%s", name, usage)
		return 2
	}
	if slices.ContainsFunc(cmdArgs, isHelp) {
		// Help needs no relay: the command prints its flags and stops
		// before it would use the client.
		run(nil, cmdArgs, *asJSON, stdout, stdout)
		return 0
	}
	c, err := admin.Dial(*data)
	if err != nil {
		fmt.Fprintln(stderr, "runrig admin:", err)
		return 1
	}
	return run(c, cmdArgs, *asJSON, stdout, stderr)
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// takeData removes --data DIR (or --data=DIR) from anywhere in args: the
// admin commands' one global setting may come before or after the
// command.
func takeData(args []string) (rest []string, data string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i:]...), data
		case (a == "--data" || a == "-data") && i+1 < len(args):
			data = args[i+1]
			i++
		case strings.HasPrefix(a, "--data=") || strings.HasPrefix(a, "-data="):
			data = a[strings.Index(a, "=")+1:]
		default:
			rest = append(rest, a)
		}
	}
	return rest, data
}

func subscribersCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("subscribers", &asJSON, stderr)
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	subs, err := c.Subscribers(ctx)
	return report(stdout, stderr, asJSON, subs, err, func(w io.Writer) { printSubscribers(w, subs) })
}

// decideCmd: approve|reject|remove DOMAIN [--slice NAME].
func decideCmd(c *admin.Client, verb string, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags(verb, &asJSON, stderr)
	slice := fs.String("slice", "", "the slice subscription (e.g. surplus, region-it-bg); default the relay itself")
	domain, ok := oneArg(fs, args, "DOMAIN", stderr)
	if !ok {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	var out any
	var err error
	switch verb {
	case "approve":
		out, err = c.Approve(ctx, domain, *slice)
	case "reject":
		out, err = c.Reject(ctx, domain, *slice)
	default:
		err = c.Remove(ctx, domain, *slice)
		out = map[string]string{"removed": domain}
	}
	return report(stdout, stderr, asJSON, out, err, func(w io.Writer) { fmt.Fprintf(w, "%s: done\n", domain) })
}

// deliveriesCmd: deliveries [--state S] [--peer DOMAIN] [--limit N] |
// deliveries retry [ID...].
func deliveriesCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("deliveries", &asJSON, stderr)
	state := fs.String("state", "", "only this state (queued, retrying, dead)")
	peer := fs.String("peer", "", "only this peer")
	limit := fs.Int("limit", 100, "at most this many")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	if len(pos) > 0 && pos[0] == "retry" {
		ids := make([]int64, 0, len(pos)-1)
		for _, a := range pos[1:] {
			id, perr := strconv.ParseInt(a, 10, 64)
			if perr != nil {
				fmt.Fprintf(stderr, "runrig admin deliveries retry: %q is not a delivery id\n", a)
				return 2
			}
			ids = append(ids, id)
		}
		r, err := c.Retry(ctx, ids)
		return report(stdout, stderr, asJSON, r, err, func(w io.Writer) { fmt.Fprintf(w, "requeued %d dead deliveries\n", r.Requeued) })
	}
	ds, err := c.Deliveries(ctx, *state, *peer, *limit)
	return report(stdout, stderr, asJSON, ds, err, func(w io.Writer) { printDeliveries(w, ds) })
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func printSubscribers(w io.Writer, subs []admin.Subscriber) {
	if len(subs) == 0 {
		fmt.Fprintln(w, "no subscribers yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tFOLLOWS\tSTATE\tSTYLE\tSOFTWARE\tSIGNS\tLAST SUCCESS\tFAILURES\tQUEUED\tDEAD\tLAST ERROR")
	for _, s := range subs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s.Peer, s.Slice, s.State, s.Style, s.Software,
			s.Signs, ago(s.LastSuccess), s.ConsecutiveFailures, s.Queued, s.Dead, s.LastError)
	}
	tw.Flush()
}

func printDeliveries(w io.Writer, ds admin.Deliveries) {
	fmt.Fprintf(w, "queued %d, retrying %d, dead %d\n", ds.Counts["queued"], ds.Counts["retrying"], ds.Counts["dead"])
	if len(ds.Deliveries) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPEER\tATTEMPTS\tNEXT\tACTIVITY\tLAST ERROR")
	for _, d := range ds.Deliveries {
		next := "-"
		if d.State != "dead" {
			next = time.Until(d.NextAttempt).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.State, d.Peer, d.Attempts, next, d.Activity, d.LastError)
	}
	tw.Flush()
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments (runrig admin block bad.example --severity suspend)
// and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// printJSON prints v indented.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
