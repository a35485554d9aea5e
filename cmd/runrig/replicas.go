package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/runrig/runrig/relay/admin"
)

// replicasCmd: replicas — the relay processes sharing the store, their
// load, and which runs each singleton.
func replicasCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("replicas", &asJSON, stderr)
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	rs, err := c.Replicas(ctx)
	return report(stdout, stderr, asJSON, rs, err, func(w io.Writer) { printReplicas(w, rs) })
}

func printReplicas(w io.Writer, rs admin.Replicas) {
	runs := map[string][]string{}
	for _, l := range rs.Singletons {
		runs[l.Owner] = append(runs[l.Owner], l.Name)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tHOST\tUP\tSEEN\tIN FLIGHT\tDELIVERED\tFAILED\tRUNS")
	for _, r := range rs.Replicas {
		id := r.ID
		if id == rs.This {
			id += " (this)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%v\n", id, r.Host, time.Since(r.StartedAt).Round(time.Second),
			ago(r.SeenAt), r.InFlight, r.Delivered, r.Failed, runs[r.ID])
	}
	tw.Flush()
}
