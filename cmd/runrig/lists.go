package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
)

// listFlags are the flags of the lists commands.
type listFlags struct {
	asJSON                 bool
	name, severity, reason string
	draft, preview, all    bool
	allows, obfuscate      bool
	priority               int
	every, exclude         string
}

// listsCmd: lists import|export|drafts|approve|subscribe|subscriptions|
// sync|unsubscribe ...
func listsCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: runrig admin lists import|export|drafts|approve|subscribe|subscriptions|sync|unsubscribe")
		return 2
	}
	verb, args := args[0], args[1:]
	f := listFlags{asJSON: asJSON}
	fs := cmdFlags("lists "+verb, &f.asJSON, stderr)
	fs.StringVar(&f.name, "name", "", "import: the list's name, shown as the rules' source (default: the file name)")
	fs.StringVar(&f.severity, "severity", "suspend", "import, subscribe: action for a plain-text list's domains")
	fs.BoolVar(&f.draft, "draft", false, "import: create the rules as drafts for review")
	fs.BoolVar(&f.preview, "preview", false, "import: only tell what would be added and skipped")
	fs.StringVar(&f.reason, "reason", "", "why (recorded in the audit log)")
	fs.BoolVar(&f.allows, "allows", false, "export: the allow list instead of the blocks")
	fs.BoolVar(&f.obfuscate, "obfuscate", false, "export: mask domains marked obfuscate")
	fs.BoolVar(&f.all, "all", false, "approve: every draft")
	fs.IntVar(&f.priority, "priority", 0, "subscribe: a higher priority list is applied first")
	fs.StringVar(&f.every, "every", "24h", "subscribe: how often the list is fetched")
	noDraft := fs.Bool("no-draft", false, "subscribe: apply new entries at once instead of as drafts")
	fs.StringVar(&f.exclude, "exclude", "", "subscribe: domains never taken from the list (comma-separated)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	run := map[string]func(*admin.Client, []string, listFlags, io.Writer, io.Writer) int{
		"import": listsImport, "export": listsExport, "drafts": listsDrafts, "approve": listsApprove,
		"subscriptions": listsSubscriptions, "sync": listsSync, "unsubscribe": listsUnsubscribe,
		"subscribe": func(c *admin.Client, pos []string, f listFlags, stdout, stderr io.Writer) int {
			return listsSubscribe(c, pos, f, *noDraft, stdout, stderr)
		},
	}[verb]
	if run == nil && isHelp(verb) {
		fmt.Fprintf(stderr, "runrig admin lists VERB: one of import, export, drafts, approve, subscribe, subscriptions, sync, unsubscribe; runrig admin lists VERB --help gives its flags\n")
		return 0
	}
	if run == nil {
		fmt.Fprintf(stderr, "runrig admin lists: unknown %q (import, export, drafts, approve, subscribe, subscriptions, sync, unsubscribe)\n", verb)
		return 2
	}
	return run(c, pos, f, stdout, stderr)
}

func listsImport(c *admin.Client, pos []string, f listFlags, stdout, stderr io.Writer) int {
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "runrig admin lists import: want one FILE")
		return 2
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "runrig admin lists import:", err)
		return 1
	}
	if f.name == "" {
		f.name = listNameOf(pos[0])
	}
	ctx, cancel := modCtx()
	defer cancel()
	start := time.Now()
	m := newMeter(stderr, "importing "+filepath.Base(pos[0]), f.asJSON)
	res, err := c.Lists().ImportProgress(ctx, admin.ImportList{Name: f.name, Content: string(data), PlainSeverity: f.severity,
		Draft: f.draft, Reason: f.reason, Preview: f.preview}, m.progressFunc())
	m.Done()
	return report(stdout, stderr, f.asJSON, res, err, func(w io.Writer) {
		verb := "added"
		if f.preview {
			verb = "would add"
		}
		fmt.Fprintf(w, "%s %s rules from list %s in %s; skipped %s domains that already have a rule\n", verb, grouped(res.Added),
			f.name, time.Since(start).Round(time.Millisecond), grouped(len(res.Skipped)))
		for _, d := range res.Skipped {
			fmt.Fprintf(w, "  skipped %s\n", d)
		}
	})
}

func listsExport(c *admin.Client, _ []string, f listFlags, stdout, stderr io.Writer) int {
	ctx, cancel := modCtx()
	defer cancel()
	b, err := c.Lists().Export(ctx, f.allows, f.obfuscate)
	if err != nil {
		fmt.Fprintln(stderr, "runrig admin lists export:", err)
		return 1
	}
	stdout.Write(b)
	return 0
}

func listsDrafts(c *admin.Client, _ []string, f listFlags, stdout, stderr io.Writer) int {
	ctx, cancel := modCtx()
	defer cancel()
	rules, err := c.Rules(ctx)
	var drafts []policy.Rule
	for _, r := range rules {
		if r.Draft {
			drafts = append(drafts, r)
		}
	}
	return report(stdout, stderr, f.asJSON, drafts, err, func(w io.Writer) {
		if len(drafts) == 0 {
			fmt.Fprintln(w, "no drafts to review")
		}
		for _, r := range drafts {
			printRule(w, r)
		}
	})
}

func listsApprove(c *admin.Client, pos []string, f listFlags, stdout, stderr io.Writer) int {
	var ids []int64
	for _, p := range pos {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "runrig admin lists approve: %q is not a rule id\n", p)
			return 2
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 && !f.all {
		fmt.Fprintln(stderr, "runrig admin lists approve: name draft rule IDs, or --all")
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	approved, err := c.ApproveDrafts(ctx, admin.ApproveDrafts{IDs: ids, All: f.all, Reason: f.reason})
	return report(stdout, stderr, f.asJSON, approved, err, func(w io.Writer) {
		fmt.Fprintf(w, "approved %d draft rules\n", len(approved))
	})
}

func listsSubscribe(c *admin.Client, pos []string, f listFlags, noDraft bool, stdout, stderr io.Writer) int {
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "runrig admin lists subscribe: want NAME URL")
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	l, err := c.Lists().Subscribe(ctx, admin.ListSubscribe{Name: pos[0], URL: pos[1], Priority: f.priority, Every: f.every,
		NoDraft: noDraft, PlainSeverity: f.severity, Excludes: split(f.exclude), Reason: f.reason})
	return report(stdout, stderr, f.asJSON, l, err, func(w io.Writer) {
		fmt.Fprintf(w, "subscribed to %s (%s), fetched every %s; new entries come in as drafts: %t\n", l.Name, l.URL, l.Interval, l.Draft)
	})
}

func listsSubscriptions(c *admin.Client, _ []string, f listFlags, stdout, stderr io.Writer) int {
	ctx, cancel := modCtx()
	defer cancel()
	lists, err := c.Lists().Subscriptions(ctx)
	return report(stdout, stderr, f.asJSON, lists, err, func(w io.Writer) {
		if len(lists) == 0 {
			fmt.Fprintln(w, "no list subscriptions")
		}
		for _, l := range lists {
			fmt.Fprintf(w, "%s  %s  priority %d, every %s, %d entries, last fetch %s\n", l.Name, l.URL, l.Priority,
				l.Interval, len(l.Entries), ago(l.LastFetch))
			if l.LastError != "" {
				fmt.Fprintf(w, "  last error: %s\n", l.LastError)
			}
			if len(l.Retracted) > 0 {
				fmt.Fprintf(w, "  retracted by the list, rules kept for review: %s\n", strings.Join(l.Retracted, ", "))
			}
		}
	})
}

func listsSync(c *admin.Client, pos []string, f listFlags, stdout, stderr io.Writer) int {
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "runrig admin lists sync: want NAME")
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	res, err := c.Lists().Sync(ctx, pos[0])
	return report(stdout, stderr, f.asJSON, res, err, func(w io.Writer) {
		fmt.Fprintf(w, "%s: %d added, %d skipped (already ruled), %d excluded, %d retracted\n", pos[0],
			len(res.Added), len(res.Skipped), len(res.Excluded), len(res.Retracted))
	})
}

func listsUnsubscribe(c *admin.Client, pos []string, f listFlags, stdout, stderr io.Writer) int {
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "runrig admin lists unsubscribe: want NAME")
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	err := c.Lists().Unsubscribe(ctx, pos[0], f.reason)
	return report(stdout, stderr, f.asJSON, map[string]string{"unsubscribed": pos[0]}, err,
		func(w io.Writer) { fmt.Fprintf(w, "unsubscribed from %s; its rules stay\n", pos[0]) })
}

// listNameOf names a list after its file: lower case, with runs of
// anything but letters and digits as one dash ("Coop Blocks.csv" is
// "coop-blocks").
func listNameOf(path string) string {
	base := strings.ToLower(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	var b strings.Builder
	dash := false
	for _, r := range base {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if len(name) > 64 {
		name = strings.TrimSuffix(name[:64], "-")
	}
	if name == "" {
		name = "list"
	}
	return name
}
