// Command runrig runs a Runrig federation relay and administers a running
// one. See `runrig help`.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/runrig/runrig/relay/rsasign"
)

const usage = `runrig — a federation relay for cooperative food and farm platforms

Usage:
  runrig serve [flags]            run a relay (try: runrig serve --help)
  runrig demo [--listen ADDR]     a relay and simulated platforms on this machine, relaying
                                  offers, requests, surplus and posts until Ctrl-C
  runrig admin [--data DIR] CMD   administer the relay running on DIR
  runrig listing validate FILE... check listings offline with the relay's rules
  runrig listing keygen --out KEYFILE
                                  a new Ed25519 key for signing listings
  runrig listing sign --key KEYFILE --method KEY-ID FILE
                                  add an FEP-8b32 proof (eddsa-jcs-2022) to a listing
  runrig config example           print a configuration file with every setting, documented
  runrig config table             print every setting as a Markdown table (README.md's)
  runrig config check FILE        validate a configuration file; names the bad key and why
  runrig backup FILE [--data DIR] a consistent copy of the store (online, while the relay runs)
  runrig restore FILE [--data DIR]
                                  put a backup into an empty data directory
  runrig migrate-store --to postgres://USER:PASSWORD@HOST/DB [--data DIR]
                                  move a stopped relay's SQLite store into an empty PostgreSQL
                                  database, for replicas (docs/scaling.md)
  runrig version                  print the version and what signs with the RSA key

Admin commands (add --json for machine-readable output):
  subscribers                     list subscriptions and their delivery health
  approve DOMAIN [--slice NAME]   accept a pending subscription (to the relay, or a slice)
  reject DOMAIN [--slice NAME]    refuse a subscription
  remove DOMAIN [--slice NAME]    end a subscription and drop its queued deliveries
  deliveries [--state S] [--peer DOMAIN]
                                  list queued, retrying and dead deliveries
  deliveries retry [ID...]        requeue dead deliveries (all when no ID)
  replicas                        the relay processes sharing a PostgreSQL store, their load,
                                  and which runs each singleton (list sync, bridges, discovery)

DFC bridges (catalogs of food platforms published as listings; see docs/fmp-integration.md):
  bridges [list]                  list bridges, their listings and their last sync
  bridges add NAME --catalog URL [--api-token-file F | --bearer-token-file F]
        [--every 15m] [--region CODE] [--kind offer|surplus]
                                  publish a DFC catalog as the actor bridge-NAME
  bridges sync NAME               read the catalog now and publish what changed
  bridges remove NAME             stop a bridge and withdraw its listings

Moderation (every change is recorded in the audit log):
  block DOMAIN [--severity suspend|reject|limit] --reason R [--preview]
                                  block a domain and its subdomains
  allow DOMAIN [--reason R]       allow a domain (overrides blocks; needed in allowlist mode)
  rules [list]                    list moderation rules
  rules show ID | remove ID       show or remove a rule
  rules add --kind domain|actor|key --subject S --action A [filters] [--preview]
                                  add a rule; --preview tells what it would affect
  audit [--after ID] [--limit N]  list the audit log; audit export prints all of it as JSON lines
  lists import FILE [--name N] [--draft] [--preview]
                                  import a Mastodon domain-block/allow CSV or a plain domain list
  lists export [--allows] [--obfuscate]
                                  print the rules as Mastodon's CSV
  lists drafts | lists approve ID...|--all
                                  review rules that came in as drafts
  lists subscribe NAME URL [--priority N] [--every 24h] [--exclude D,...] [--no-draft]
  lists subscriptions | lists sync NAME | lists unsubscribe NAME
                                  follow shared lists; new entries come in as drafts
  trust [list] | trust DOMAIN --level trusted|normal|limited|untrusted
                                  trust levels scale each peer's inbound rate limit
  keys [--rotated]                peers' pinned keys and their rotations
  endorse|censure DOMAIN --reason R
                                  publish an opinion of a domain (never blocks by itself)
  endorsements [--peers] | withdraw ID
                                  yours, or those of the relays you trust
  self                            this relay's signed discovery announcement
  peers                           relays and FMP servers discovered (verified, with trust and policy)
  peers add URL                   verify a peer's announcement and add it by hand
  discover [--region X] [--kind K]
                                  verified peers (and their FMP members) for a region or kind

Moderator console (web pages under PUBLIC_URL/admin/, for moderators without a terminal):
  moderators [list]               list console accounts
  moderators add NAME --role admin|moderator
                                  create an account; prints a one-time link (valid 24 h) where
                                  that person chooses a password
  moderators reset NAME           end NAME's sessions and print a new link
  moderators remove NAME          delete an account and end its sessions
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "admin":
		return adminCmd(args[1:], stdout, stderr)
	case "demo":
		return demoCmd(args[1:], stdout, stderr)
	case "listing":
		return listingCmd(args[1:], stdout, stderr)
	case "config":
		return configCmd(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(args[1:], stdout, stderr)
	case "migrate-store":
		return migrateStoreCmd(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "runrig", version())
		if ok, why := rsasign.Available(); ok {
			fmt.Fprintf(stdout, "RSA signing: openssl (%s)\n", why)
		} else {
			fmt.Fprintf(stdout, "RSA signing: go (crypto/rsa; openssl unavailable: %s)\n", why)
		}
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "runrig: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
