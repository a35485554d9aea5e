package settings

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/runrig/runrig/relay"
)

// exampleHeader opens the file `runrig config example` prints.
const exampleHeader = `# Runrig relay configuration, as printed by "runrig config example".
# Every key is optional. Each one is shown with its default; a commented-out
# key has no fixed default (the relay picks it, as its comment says). The
# same settings exist as flags (--public-url) and RUNRIG_* environment
# variables (RUNRIG_PUBLIC_URL), which take precedence over this file:
# file < environment < flag. Unknown keys are errors.
# Check a file with "runrig config check FILE".
`

// Example writes a configuration file with every setting, its
// documentation, environment variable and flag, set to its default.
func Example(w io.Writer) error {
	cfg, lg := relay.Defaults(), Log{Format: "text", Level: "info"}
	var b strings.Builder
	b.WriteString(exampleHeader)
	for _, st := range all() {
		b.WriteString("\n")
		for _, line := range wrap(st.doc, 74) {
			b.WriteString("# " + line + "\n")
		}
		fmt.Fprintf(&b, "# (flag --%s, environment %s)\n", st.name, envName(st.name))
		v := st.get(&cfg, &lg)
		switch {
		case v == "":
			fmt.Fprintf(&b, "# %s = \"\"\n", fileKey(st.name))
		case st.bool || isNumber(v):
			fmt.Fprintf(&b, "%s = %s\n", fileKey(st.name), v)
		default:
			fmt.Fprintf(&b, "%s = %q\n", fileKey(st.name), v)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Check loads a configuration file as `runrig serve --config FILE` would,
// without the environment, and returns the first problem, naming the key.
func Check(path string) (relay.Config, error) {
	cfg, _, err := Load([]string{"--config", path}, func(string) string { return "" }, io.Discard)
	if err != nil {
		return cfg, err
	}
	return cfg, relay.CheckConfig(cfg)
}

func isNumber(v string) bool {
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

// wrap breaks text into lines of at most width characters.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// Table writes every setting as the Markdown table of README.md: flag,
// environment variable, default and what it does.
func Table(w io.Writer) error {
	cfg, lg := relay.Defaults(), Log{Format: "text", Level: "info"}
	var b strings.Builder
	b.WriteString("| flag | env | default | what it does |\n| --- | --- | --- | --- |\n")
	for _, st := range all() {
		def := "none"
		if v := st.get(&cfg, &lg); v != "" {
			def = "`" + v + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", st.name, envName(st.name), def, strings.ReplaceAll(st.doc, "|", "\\|"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
