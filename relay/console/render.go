package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

// page is what every template receives.
type page struct {
	// Title names the relay; Nav the current page.
	Title, Nav string
	// Who is the signed-in moderator, nil on the login and setup pages.
	Who *who
	// Message is a notice or error shown at the top, from the catalog.
	Message string
	// Data is the page's own content.
	Data any
}

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"login", "setup", "error", "overview", "subscribers", "rules", "preview", "deliveries", "audit", "trust", "lists", "import", "account", "peers", "bridges"}

// parsePages parses each page with the layout.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"t":    msg,
		"when": when,
		"ago":  ago,
		"list": func(xs ...string) []string { return xs },
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets,
			"templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

// render writes a page with status; u is the signed-in moderator, if any.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, u *who, p page) {
	if u == nil {
		u = current(r)
	}
	p.Who, p.Nav, p.Title = u, name, c.cfg.Name
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, p); err != nil {
		c.cfg.Log.Error("console template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// when formats a time for people, in UTC.
func when(t time.Time) string {
	if t.IsZero() {
		return msg("never")
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ago is how long ago t was, roughly.
func ago(t time.Time) string {
	if t.IsZero() {
		return msg("never")
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return msg("just_now")
	case d < time.Hour:
		return fmt.Sprintf(msg("minutes_ago"), int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf(msg("hours_ago"), int(d/time.Hour))
	default:
		return fmt.Sprintf(msg("days_ago"), int(d/(24*time.Hour)))
	}
}
