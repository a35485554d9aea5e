package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/runrig/runrig/relay/admin"
)

// moderatorsCmd manages the moderator console's accounts: list, add,
// reset, remove.
func moderatorsCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("moderators", &asJSON, stderr)
	role := fs.String("role", "moderator", "admin (everything, settings-level acts too) or moderator (subscribers, rules, lists, drafts, dead letters)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	ctx := context.Background()
	m := c.Moderators()
	verb := "list"
	if len(pos) > 0 {
		verb = pos[0]
	}
	if (verb == "list" && len(pos) > 1) || (verb != "list" && len(pos) != 2) {
		fmt.Fprintln(stderr, "usage: runrig admin moderators [list] | add NAME --role admin|moderator | reset NAME | remove NAME")
		return 2
	}
	var link admin.SetupLink
	switch verb {
	case "list":
		ms, err := m.List(ctx)
		if err != nil {
			return fail(stderr, err)
		}
		if asJSON {
			printJSON(stdout, ms)
			return 0
		}
		printModerators(stdout, ms)
		return 0
	case "add":
		link, err = m.Add(ctx, pos[1], *role)
	case "reset":
		link, err = m.Reset(ctx, pos[1])
	case "remove":
		if err := m.Remove(ctx, pos[1]); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "removed moderator %s; their sessions have ended\n", pos[1])
		return 0
	default:
		fmt.Fprintf(stderr, "runrig admin moderators: unknown command %q\n", verb)
		return 2
	}
	if err != nil {
		return fail(stderr, err)
	}
	if asJSON {
		printJSON(stdout, link)
		return 0
	}
	fmt.Fprintf(stdout, "Send this link to %s; it works once, until %s:\n\n  %s\n\nThere they choose a password and are signed in to the console.\n",
		link.Name, link.Expires.Format("2006-01-02 15:04 MST"), link.Link)
	return 0
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "runrig admin moderators:", err)
	return 1
}

func printModerators(w io.Writer, ms []admin.Moderator) {
	if len(ms) == 0 {
		fmt.Fprintln(w, "no moderators yet: runrig admin moderators add NAME --role admin")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tPASSWORD SET\tCREATED")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", m.Name, m.Role, m.Active, m.Created.Format("2006-01-02"))
	}
	tw.Flush()
}
