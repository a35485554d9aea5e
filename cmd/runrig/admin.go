package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/runrig/runrig/relay/admin"
)

func adminCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDefault := os.Getenv("RUNRIG_DATA")
	if dataDefault == "" {
		dataDefault = "./data"
	}
	data := fs.String("data", dataDefault, "data directory of the running relay (env RUNRIG_DATA)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// Flags may also follow the command: runrig admin subscribers --json.
	cmd, cmdArgs := rest[0], rest[1:]
	if run, ok := moderationCommands[cmd]; ok {
		c, err := admin.Dial(*data)
		if err != nil {
			fmt.Fprintln(stderr, "runrig admin:", err)
			return 1
		}
		return run(c, cmdArgs, *asJSON, stdout, stderr)
	}
	sub := flag.NewFlagSet("runrig admin "+cmd, flag.ContinueOnError)
	sub.SetOutput(stderr)
	sub.BoolVar(asJSON, "json", *asJSON, "print JSON")
	state := sub.String("state", "", "deliveries: only this state (queued, retrying, dead)")
	peer := sub.String("peer", "", "deliveries: only this peer")
	limit := sub.Int("limit", 100, "deliveries: at most this many")
	sliceName := sub.String("slice", "", "approve, reject, remove: the slice subscription (e.g. surplus, region-it-bg); default the relay itself")
	pos, err := parseInterspersed(sub, cmdArgs)
	if err != nil {
		return 2
	}

	c, err := admin.Dial(*data)
	if err != nil {
		fmt.Fprintln(stderr, "runrig admin:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out any
	var text func(io.Writer)
	switch cmd {
	case "subscribers":
		subs, e := c.Subscribers(ctx)
		out, err, text = subs, e, func(w io.Writer) { printSubscribers(w, subs) }
	case "approve", "reject", "remove":
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "runrig admin %s: want one DOMAIN\n", cmd)
			return 2
		}
		switch cmd {
		case "approve":
			out, err = c.Approve(ctx, pos[0], *sliceName)
		case "reject":
			out, err = c.Reject(ctx, pos[0], *sliceName)
		default:
			err = c.Remove(ctx, pos[0], *sliceName)
			out = map[string]string{"removed": pos[0]}
		}
		text = func(w io.Writer) { fmt.Fprintf(w, "%s: done\n", pos[0]) }
	case "deliveries":
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
			r, e := c.Retry(ctx, ids)
			out, err, text = r, e, func(w io.Writer) { fmt.Fprintf(w, "requeued %d dead deliveries\n", r.Requeued) }
			break
		}
		ds, e := c.Deliveries(ctx, *state, *peer, *limit)
		out, err, text = ds, e, func(w io.Writer) { printDeliveries(w, ds) }
	default:
		fmt.Fprintf(stderr, "runrig admin: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "runrig admin:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return 0
	}
	text(stdout)
	return 0
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
	fmt.Fprintln(tw, "PEER\tFOLLOWS\tSTATE\tSTYLE\tSOFTWARE\tLAST SUCCESS\tFAILURES\tQUEUED\tDEAD\tLAST ERROR")
	for _, s := range subs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s.Peer, s.Slice, s.State, s.Style, s.Software,
			ago(s.LastSuccess), s.ConsecutiveFailures, s.Queued, s.Dead, s.LastError)
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
