package console

// messages is the console's text, by key: templates and handlers say
// {{t "key"}} or msg("key"), so that a translation is one more table.
var messages = map[string]string{
	// Navigation and titles.
	"console":     "Moderation",
	"overview":    "Overview",
	"subscribers": "Subscribers",
	"rules":       "Rules",
	"deliveries":  "Dead letters",
	"audit":       "Audit log",
	"trust":       "Trust",
	"sign_out":    "Sign out",
	"signed_in":   "Signed in as %s (%s)",
	"skip":        "Skip to content",

	// Sign-in and setup.
	"sign_in":           "Sign in",
	"name":              "Name",
	"password":          "Password",
	"confirm":           "Password again",
	"choose_password":   "Choose your password",
	"setup_help":        "This link works once. Choose a password of at least 12 characters; a long phrase is best.",
	"save_password":     "Save and sign in",
	"bad_login":         "That name and password do not match an account.",
	"locked_out":        "Too many failed sign-ins. Wait a quarter of an hour, then try again.",
	"password_mismatch": "The two passwords differ.",
	"password_length":   "A password has 12 to 256 characters.",
	"setup_spent":       "This setup link was used already or has expired. Ask an admin for a new one (runrig admin moderators reset NAME).",

	// Refusals.
	"no_session": "Your session has ended. Sign in again.",
	"csrf":       "This form is stale or did not come from this console. Reload the page and try again.",
	"cross_site": "This request came from another site and was refused.",
	"admin_only": "Only admins may do this.",
	"internal":   "Something went wrong on the relay; it is in the relay's log.",
	"bad_form":   "The form was incomplete or malformed.",
	"not_found":  "There is no such thing any more; someone may have changed it meanwhile.",

	// Overview.
	"subscribers_by_state": "Subscribers by state",
	"pending_approvals":    "Waiting for approval",
	"failing":              "Failing subscribers",
	"queue":                "Delivery queue",
	"queued":               "queued",
	"queued_col":           "Queued",
	"retrying":             "retrying",
	"dead":                 "dead",
	"none":                 "None.",

	// Subscribers.
	"peer":         "Server",
	"slice":        "Follows",
	"state":        "State",
	"software":     "Software",
	"last_success": "Last delivery",
	"last_error":   "Last error",
	"failures":     "Failures in a row",
	"approve":      "Approve",
	"reject":       "Reject",
	"remove":       "Remove",
	"selected":     "With the selected:",
	"select":       "Select %s",
	"select_col":   "Select",
	"decided":      "Done: %d subscription(s) %s.",

	// Rules.
	"domain":          "Domain",
	"action":          "Action",
	"reason":          "Reason (kept in the audit log)",
	"public_reason":   "Public reason (shown on the relay's front page)",
	"add_rule":        "Add a rule",
	"preview_rule":    "Preview",
	"save_rule":       "Save the rule",
	"preview_title":   "What this rule would do",
	"would_affect":    "It would affect %d subscription(s) of these servers, with %d queued deliveries:",
	"affects_nothing": "It affects no current subscriber.",
	"rule_added":      "Rule %d added.",
	"rule_removed":    "Rule %d removed.",
	"no_rules":        "No rules yet.",
	"reason_required": "A reason is required: it is what the audit log keeps of why.",
	"bad_rule":        "That rule is not valid: %s",
	"subject":         "Subject",
	"source":          "Source",
	"created":         "Created",
	"expires":         "Expires",

	// Deliveries.
	"activity":       "Activity",
	"attempts":       "Attempts",
	"retry":          "Retry",
	"retry_all":      "Retry all dead letters",
	"retried":        "%d delivery(ies) queued again.",
	"no_dead":        "No dead letters.",
	"dead_help":      "Deliveries that failed on every attempt. Retry them once the subscriber works again.",
	"filter":         "Filter",
	"who":            "Who",
	"what":           "What",
	"when":           "When",
	"why":            "Why",
	"apply":          "Apply",
	"audit_help":     "Every change by a moderator, newest first.",
	"level":          "Level",
	"set_trust":      "Set",
	"trust_set":      "Trust of %s set to %s.",
	"trust_help":     "Trust scales how much a server may send. Only admins change it.",
	"never":          "never",
	"just_now":       "just now",
	"minutes_ago":    "%d min ago",
	"hours_ago":      "%d h ago",
	"days_ago":       "%d days ago",
	"relay_everyone": "everything",
}

// msg returns the text of key (the key itself when the catalog lacks it).
func msg(key string) string {
	if m, ok := messages[key]; ok {
		return m
	}
	return key
}
