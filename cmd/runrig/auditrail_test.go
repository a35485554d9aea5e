package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// A moderator's audit trail stays true: blocking a domain again changes
// its rule (one rule, published once, the change audited with what it
// was), rule ids are not given again after removals, and every audit
// entry about a rule names what the rule covers.
func TestBlockAgainChangesTheRule(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	data := filepath.Join(dir, "data")
	startServe(t, dir, url, testEnv, "--listen", addr, "--public-url", url, "--data", data)
	block := func(severity, reason string) int64 {
		out := runCLI(t, "admin", "--data", data, "block", "spam.example", "--severity", severity, "--reason", reason, "--json")
		var r struct{ ID int64 }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("block --json: %s %v", out, err)
		}
		return r.ID
	}
	first := block("limit", "noisy")
	if again := block("suspend", "spam wave"); again != first {
		t.Errorf("blocking spam.example again made rule %d beside rule %d", again, first)
	}
	resp, err := http.Get(url + "/policy/blocks.csv")
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(csv), "spam.example"); n != 1 || !strings.Contains(string(csv), "suspend") {
		t.Errorf("blocks.csv lists spam.example %d times:\n%s", n, csv)
	}
	audit := runCLI(t, "admin", "--data", data, "audit", "export")
	if !strings.Contains(audit, `"what":"rule.change"`) || !strings.Contains(audit, fmt.Sprintf("rule %d: domain spam.example", first)) {
		t.Errorf("the second block is not audited as a change of rule %d:\n%s", first, audit)
	}

	runCLI(t, "admin", "--data", data, "rules", "remove", fmt.Sprint(first), "--reason", "cleared up")
	if next := block("reject", "back again"); next <= first {
		t.Errorf("after rule %d was removed, the next block is rule %d", first, next)
	}
	audit = runCLI(t, "admin", "audit", "export", "--data", data) // --data after the command, too
	if !strings.Contains(audit, fmt.Sprintf(`"what":"rule.remove","subject":"rule %d: domain spam.example"`, first)) {
		t.Errorf("the removal does not name the rule's subject:\n%s", audit)
	}
}
