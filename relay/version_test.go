package relay

import (
	"runtime/debug"
	"testing"
)

func TestVersions(t *testing.T) {
	built := func(main string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	for _, c := range []struct {
		name, stamped, commit string
		bi                    *debug.BuildInfo
		version, commitOut    string
	}{
		{"nothing known", "", "", nil, "0.1.0-dev", ""},
		{"go build in a checkout", "", "", built("(devel)", "vcs.revision", "3f1c0a9b27de55aa", "vcs.modified", "false"),
			"0.1.0-dev+3f1c0a9b27de", "3f1c0a9b27de"},
		{"uncommitted changes", "", "", built("(devel)", "vcs.revision", "3f1c0a9b27de55aa", "vcs.modified", "true"),
			"0.1.0-dev+3f1c0a9b27de-dirty", "3f1c0a9b27de-dirty"},
		{"go install of a tag", "", "", built("v1.2.3"), "1.2.3", ""},
		{"an untagged checkout's pseudo-version", "", "", built("v0.0.0-20261203081737-1b1ed8081eb2+dirty",
			"vcs.revision", "1b1ed8081eb2ffff", "vcs.modified", "true"), "0.1.0-dev+1b1ed8081eb2-dirty", "1b1ed8081eb2-dirty"},
		{"stamped by make build", "1.2.3", "abc123", built("(devel)", "vcs.revision", "ffff"), "1.2.3+abc123", "abc123"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, cm := versions(c.stamped, c.commit, c.bi)
			if v != c.version || cm != c.commitOut {
				t.Errorf("versions = %q, %q; want %q, %q", v, cm, c.version, c.commitOut)
			}
		})
	}
}
