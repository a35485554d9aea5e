package relay_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/runrig/runrig/"

// imports lists the packages of this module that the non-test files of
// the package in dir (relative to the module root) import.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if rest, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out, rest) {
				out = append(out, rest)
			}
		}
	}
	return out
}

// Imports point one way: the domain packages import nothing of relay or
// cmd, and the services import neither the relay root nor each other; the
// processing services share only the verified activity's model from
// relay/inbox.
func TestImportDirection(t *testing.T) {
	services := []string{"relay/inbox", "relay/subscription", "relay/fanout", "relay/federation",
		"relay/web", "relay/adminapi", "relay/console", "relay/delivery", "relay/bridge"}
	for _, dom := range []string{"policy", "trust", "discovery"} {
		for _, im := range imports(t, dom) {
			if im == "relay" || strings.HasPrefix(im, "relay/") || strings.HasPrefix(im, "cmd") {
				t.Errorf("%s imports %s", dom, im)
			}
		}
	}
	for _, svc := range services {
		for _, im := range imports(t, svc) {
			switch {
			case im == "relay" || strings.HasPrefix(im, "cmd"):
				t.Errorf("%s imports %s", svc, im)
			case im == "relay/inbox" && (svc == "relay/subscription" || svc == "relay/fanout" || svc == "relay/federation"):
			case slices.Contains(services, im):
				t.Errorf("service %s imports service %s", svc, im)
			}
		}
	}
}
