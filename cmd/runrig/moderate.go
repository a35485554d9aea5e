package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/admin"
)

// moderationCommands are the admin commands moderators use. Each parses its
// own flags, which may follow its positional arguments.
var moderationCommands = map[string]command{
	"rules": rulesCmd,
	"block": blockCmd,
	"allow": allowCmd,
	"audit": auditCmd,
	"lists": listsCmd,
	"trust": trustCmd,
	"keys":  keysCmd,
	"endorse": func(c *admin.Client, a []string, j bool, o, e io.Writer) int {
		return endorseCmd(c, "endorse", a, j, o, e)
	},
	"censure": func(c *admin.Client, a []string, j bool, o, e io.Writer) int {
		return endorseCmd(c, "censure", a, j, o, e)
	},
	"endorsements": endorsementsCmd,
	"withdraw":     withdrawCmd,
	"self":         selfCmd,
	"peers":        peersCmd,
	"discover":     discoverCmd,
	"moderators":   moderatorsCmd,
	"bridges":      bridgesCmd,
}

// cmdFlags starts the flag set of an admin command, with --json.
func cmdFlags(name string, asJSON *bool, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("runrig admin "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(asJSON, "json", *asJSON, "print JSON")
	return fs
}

// oneArg parses args and requires exactly one positional argument, named
// what in the usage message; ok is false when the command should exit 2.
func oneArg(fs *flag.FlagSet, args []string, what string, stderr io.Writer) (arg string, ok bool) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", false
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "%s: want one %s\n", fs.Name(), what)
		return "", false
	}
	return pos[0], true
}

// reportRule prints an added rule, or what it would affect for a preview.
func reportRule(stdout, stderr io.Writer, asJSON, preview bool, r policy.Rule, a admin.Affected, err error) int {
	if preview {
		return report(stdout, stderr, asJSON, a, err, func(w io.Writer) { printAffected(w, a) })
	}
	return report(stdout, stderr, asJSON, r, err, func(w io.Writer) { printRule(w, r) })
}

func modCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// report prints the result of a moderation command.
func report(stdout, stderr io.Writer, asJSON bool, v any, err error, text func(io.Writer)) int {
	if err != nil {
		fmt.Fprintln(stderr, "runrig admin:", err)
		return 1
	}
	if asJSON {
		printJSON(stdout, v)
		return 0
	}
	text(stdout)
	return 0
}

func printAffected(w io.Writer, a admin.Affected) {
	fmt.Fprintf(w, "would affect %d subscriptions and %d queued deliveries", a.Subscriptions, a.QueuedDeliveries)
	if len(a.Peers) > 0 {
		fmt.Fprintf(w, " of %s", strings.Join(a.Peers, ", "))
	}
	fmt.Fprintln(w)
}

func printRule(w io.Writer, r policy.Rule) {
	fmt.Fprintf(w, "rule %d: %s %s %s (source %s, by %s, %s)\n", r.ID, r.Action, r.Kind, r.Subject, r.Source, r.Author,
		r.Created.Format(time.RFC3339))
	if r.PublicComment != "" {
		fmt.Fprintf(w, "  public comment: %s\n", r.PublicComment)
	}
	if r.PrivateComment != "" {
		fmt.Fprintf(w, "  private comment: %s\n", r.PrivateComment)
	}
	if !r.Filters.Empty() {
		b, _ := json.Marshal(r.Filters)
		fmt.Fprintf(w, "  filters: %s\n", b)
	}
	if !r.Expires.IsZero() {
		fmt.Fprintf(w, "  expires: %s\n", r.Expires.Format(time.RFC3339))
	}
	if r.Draft {
		fmt.Fprintln(w, "  draft: waiting for review")
	}
}

// rulesCmd: rules [list] | show ID | add --kind K --subject S --action A ...
// [--preview] | remove ID [--reason R].
func rulesCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	verb := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	fs := cmdFlags("rules "+verb, &asJSON, stderr)
	kind := fs.String("kind", "domain", "add: what the subject is: domain, actor or key")
	subject := fs.String("subject", "", "add: the domain, actor IRI or key id")
	action := fs.String("action", "", "add: accept, limit, reject or suspend")
	reason := fs.String("reason", "", "why (recorded in the audit log)")
	public := fs.String("public-comment", "", "add: comment shown with the published list")
	private := fs.String("private-comment", "", "add: comment for moderators only")
	expires := fs.Duration("expires", 0, "add: the rule lapses after this long (e.g. 720h)")
	types := fs.String("types", "", "add: filter: refuse these activity or object types (comma-separated)")
	kinds := fs.String("kinds", "", "add: filter: refuse these listing kinds (offer,request,surplus)")
	keywords := fs.String("keywords", "", "add: filter: refuse activities containing these words (comma-separated)")
	maxAge := fs.Duration("max-age", 0, "add: filter: refuse objects older than this")
	rejectMedia := fs.Bool("reject-media", false, "add: filter: refuse activities carrying media")
	draft := fs.Bool("draft", false, "add: create as a draft for review")
	preview := fs.Bool("preview", false, "add: only tell which subscribers and queued deliveries the rule would affect")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	switch verb {
	case "list":
		rules, err := c.Rules(ctx)
		return report(stdout, stderr, asJSON, rules, err, func(w io.Writer) {
			if len(rules) == 0 {
				fmt.Fprintln(w, "no rules")
				return
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACTION\tKIND\tSUBJECT\tSOURCE\tAUTHOR\tPUBLIC COMMENT")
			for _, r := range rules {
				action := string(r.Action)
				if r.Draft {
					action += " (draft)"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, action, r.Kind, r.Subject, r.Source, r.Author, r.PublicComment)
			}
			tw.Flush()
		})
	case "show", "remove":
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "runrig admin rules %s: want one rule ID\n", verb)
			return 2
		}
		id, perr := strconv.ParseInt(pos[0], 10, 64)
		if perr != nil {
			fmt.Fprintf(stderr, "runrig admin rules %s: %q is not a rule id\n", verb, pos[0])
			return 2
		}
		if verb == "show" {
			r, err := c.Rule(ctx, id)
			return report(stdout, stderr, asJSON, r, err, func(w io.Writer) { printRule(w, r) })
		}
		err := c.RemoveRule(ctx, id, *reason)
		return report(stdout, stderr, asJSON, map[string]int64{"removed": id}, err,
			func(w io.Writer) { fmt.Fprintf(w, "rule %d removed\n", id) })
	case "add":
		r := policy.Rule{Kind: policy.Kind(*kind), Subject: *subject, Action: policy.Action(*action),
			PublicComment: *public, PrivateComment: *private, Draft: *draft,
			Filters: policy.Filters{Types: split(*types), Kinds: split(*kinds), Keywords: split(*keywords),
				MaxAge: *maxAge, RejectMedia: *rejectMedia}}
		if *expires > 0 {
			r.Expires = time.Now().Add(*expires).UTC()
		}
		req := admin.AddRule{Rule: r, Reason: *reason}
		if *preview {
			a, err := c.PreviewRule(ctx, req)
			return report(stdout, stderr, asJSON, a, err, func(w io.Writer) { printAffected(w, a) })
		}
		added, err := c.AddRule(ctx, req)
		return report(stdout, stderr, asJSON, added, err, func(w io.Writer) { printRule(w, added) })
	default:
		if isHelp(verb) {
			fmt.Fprintf(stderr, "runrig admin rules VERB: one of list, show, add, remove; runrig admin rules VERB --help gives its flags\n")
			return 0
		}
		fmt.Fprintf(stderr, "runrig admin rules: unknown %q (list, show, add, remove)\n", verb)
		return 2
	}
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// blockCmd: block DOMAIN [--severity suspend|reject|limit|silence] --reason R ...
func blockCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("block", &asJSON, stderr)
	var b admin.Block
	fs.StringVar(&b.Severity, "severity", "suspend", "suspend, reject, or limit (Mastodon's silence)")
	fs.StringVar(&b.Reason, "reason", "", "why (required, except with --preview; kept in the audit log)")
	fs.StringVar(&b.PublicComment, "public-comment", "", "comment shown with the published list")
	fs.StringVar(&b.PrivateComment, "private-comment", "", "comment for moderators only")
	fs.BoolVar(&b.RejectMedia, "reject-media", false, "also refuse its activities carrying media")
	fs.BoolVar(&b.Obfuscate, "obfuscate", false, "mask the domain in the published list")
	fs.StringVar(&b.ExpiresIn, "expires", "", "lapse after this long (e.g. 720h)")
	fs.BoolVar(&b.Preview, "preview", false, "only tell which subscribers and queued deliveries it would affect")
	domain, ok := oneArg(fs, args, "DOMAIN", stderr)
	if !ok {
		return 2
	}
	b.Domain = domain
	ctx, cancel := modCtx()
	defer cancel()
	r, a, err := c.Block(ctx, b)
	return reportRule(stdout, stderr, asJSON, b.Preview, r, a, err)
}

// allowCmd: allow DOMAIN [--reason R].
func allowCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("allow", &asJSON, stderr)
	var a admin.Allow
	fs.StringVar(&a.Reason, "reason", "", "why (recorded in the audit log)")
	fs.StringVar(&a.PublicComment, "public-comment", "", "comment shown with the published list")
	fs.BoolVar(&a.Preview, "preview", false, "only tell which subscribers it would affect")
	domain, ok := oneArg(fs, args, "DOMAIN", stderr)
	if !ok {
		return 2
	}
	a.Domain = domain
	ctx, cancel := modCtx()
	defer cancel()
	r, aff, err := c.Allow(ctx, a)
	return reportRule(stdout, stderr, asJSON, a.Preview, r, aff, err)
}

// auditCmd: audit [--after ID] [--limit N] | audit export (JSON Lines, all).
func auditCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	export := len(args) > 0 && args[0] == "export"
	if export {
		args = args[1:]
	}
	fs := cmdFlags("audit", &asJSON, stderr)
	after := fs.Int64("after", 0, "only entries after this id")
	limit := fs.Int("limit", 100, "at most this many entries")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	if export {
		enc := json.NewEncoder(stdout)
		for next := *after; ; {
			page, err := c.Audit(ctx, next, 1000)
			if err != nil {
				fmt.Fprintln(stderr, "runrig admin audit export:", err)
				return 1
			}
			for _, e := range page {
				enc.Encode(e)
				next = e.ID
			}
			if len(page) < 1000 {
				return 0
			}
		}
	}
	entries, err := c.Audit(ctx, *after, *limit)
	return report(stdout, stderr, asJSON, entries, err, func(w io.Writer) {
		if len(entries) == 0 {
			fmt.Fprintln(w, "the audit log is empty")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tWHEN\tWHO\tWHAT\tSUBJECT\tWHY\tSOURCE")
		for _, e := range entries {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.Format(time.RFC3339), e.Who, e.What, e.Subject, e.Why, e.Source)
		}
		tw.Flush()
	})
}

// trustCmd: trust [list] | trust DOMAIN --level L [--reason R].
func trustCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("trust", &asJSON, stderr)
	level := fs.String("level", "", "trusted, normal, limited or untrusted")
	reason := fs.String("reason", "", "why (recorded in the audit log)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	if len(pos) == 0 || (len(pos) == 1 && pos[0] == "list") {
		peers, err := c.Trust(ctx)
		return report(stdout, stderr, asJSON, peers, err, func(w io.Writer) {
			if len(peers) == 0 {
				fmt.Fprintln(w, "no peers known yet")
				return
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PEER\tTRUST\tSUBSCRIPTIONS\tDELIVERED\tFAILED\tREJECTED\tSET BY\tREASON")
			for _, p := range peers {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Peer, p.Level, p.Subscriptions, p.Delivered, p.Failed, p.Rejected, p.SetBy, p.Reason)
			}
			tw.Flush()
		})
	}
	if len(pos) != 1 || *level == "" {
		fmt.Fprintln(stderr, "runrig admin trust: want DOMAIN --level trusted|normal|limited|untrusted")
		return 2
	}
	err = c.SetTrust(ctx, admin.SetTrust{Domain: pos[0], Level: *level, Reason: *reason})
	return report(stdout, stderr, asJSON, map[string]string{"peer": pos[0], "level": *level}, err,
		func(w io.Writer) { fmt.Fprintf(w, "%s is now %s\n", pos[0], *level) })
}

// keysCmd: keys — the pinned peer keys and their rotations.
func keysCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("keys", &asJSON, stderr)
	rotated := fs.Bool("rotated", false, "only keys that rotated")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	keys, err := c.Keys(ctx)
	if *rotated {
		var only []admin.PinnedKey
		for _, k := range keys {
			if k.Rotations > 0 {
				only = append(only, k)
			}
		}
		keys = only
	}
	return report(stdout, stderr, asJSON, keys, err, func(w io.Writer) {
		if len(keys) == 0 {
			fmt.Fprintln(w, "no pinned keys")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PEER\tKEY\tFINGERPRINT\tROTATIONS\tLAST ROTATED")
		for _, k := range keys {
			last := "-"
			if !k.RotatedAt.IsZero() {
				last = k.RotatedAt.Format(time.RFC3339)
			}
			// In full, as a key rule names it: `rules add --kind key --subject sha256:…`.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", k.Peer, k.KeyID, policy.KeyFingerprintSubject(k.Fingerprint), k.Rotations, last)
		}
		tw.Flush()
	})
}

// endorseCmd: endorse|censure DOMAIN --reason R.
func endorseCmd(c *admin.Client, kind string, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags(kind, &asJSON, stderr)
	reason := fs.String("reason", "", "why, at most 255 characters (published)")
	domain, ok := oneArg(fs, args, "DOMAIN (with --reason)", stderr)
	if !ok {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	err := c.Endorse(ctx, admin.Endorse{Domain: domain, Kind: kind, Reason: *reason})
	return report(stdout, stderr, asJSON, map[string]string{kind: domain}, err,
		func(w io.Writer) { fmt.Fprintf(w, "%s: %sd; published at /policy/endorsements.json\n", domain, kind) })
}

// endorsementsCmd: endorsements [--peers].
func endorsementsCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("endorsements", &asJSON, stderr)
	peers := fs.Bool("peers", false, "read those published by the peers you trust (trust level trusted)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	if *peers {
		pe, err := c.PeerEndorsements(ctx)
		return report(stdout, stderr, asJSON, pe, err, func(w io.Writer) {
			if len(pe) == 0 {
				fmt.Fprintln(w, "nothing from trusted peers (mark relays you trust with: runrig admin trust DOMAIN --level trusted)")
			}
			for _, e := range pe {
				if e.Error != "" {
					fmt.Fprintf(w, "%s: could not read: %s\n", e.From, e.Error)
					continue
				}
				fmt.Fprintf(w, "%s %ss %s: %s\n", e.From, e.Kind, e.Domain, e.Reason)
			}
		})
	}
	es, err := c.Endorsements(ctx)
	return report(stdout, stderr, asJSON, es, err, func(w io.Writer) {
		if len(es) == 0 {
			fmt.Fprintln(w, "no endorsements or censures")
		}
		for _, e := range es {
			fmt.Fprintf(w, "%d  %s %s: %s (by %s)\n", e.ID, e.Kind, e.Domain, e.Reason, e.Author)
		}
	})
}

// withdrawCmd: withdraw ID [--reason R].
func withdrawCmd(c *admin.Client, args []string, asJSON bool, stdout, stderr io.Writer) int {
	fs := cmdFlags("withdraw", &asJSON, stderr)
	reason := fs.String("reason", "", "why (recorded in the audit log)")
	arg, ok := oneArg(fs, args, "endorsement ID", stderr)
	if !ok {
		return 2
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "runrig admin withdraw: %q is not an id\n", arg)
		return 2
	}
	ctx, cancel := modCtx()
	defer cancel()
	err = c.Withdraw(ctx, id, *reason)
	return report(stdout, stderr, asJSON, map[string]int64{"withdrawn": id}, err,
		func(w io.Writer) { fmt.Fprintf(w, "withdrawn %d\n", id) })
}
