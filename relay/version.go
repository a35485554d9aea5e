package relay

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// The release and commit stamped at build time (the Makefile's build and
// the container image pass -ldflags "-X …relay.stampedVersion=… -X
// …relay.stampedCommit=…"). Unstamped, the module's version from Go's
// build information is used (a tag, for `go install …@v1.2.3`), and the
// commit Go records when it builds in a git checkout.
var stampedVersion, stampedCommit string

// baseVersion is the release this source is, when nothing says better.
const baseVersion = "0.1.0-dev"

// pseudoVersion matches the version Go makes up for an untagged commit
// (v0.0.0-20261203081737-1b1ed8081eb2+dirty): the commit says it better.
var pseudoVersion = regexp.MustCompile(`-(0\.)?\d{14}-[0-9a-f]{12}(\+dirty)?$`)

// Version is the one version the relay reports everywhere: `runrig
// version`, NodeInfo, the User-Agent and runrig_build_info. It is the
// release with the commit as semver build metadata ("0.1.0+3f1c0a9b27de").
// Commit alone is the commit ("" when unknown; "-dirty" marks changes
// that were not committed).
var Version, Commit = versions(stampedVersion, stampedCommit, buildInfo())

func buildInfo() *debug.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return bi
}

// versions combines what was stamped with what Go recorded.
func versions(stamped, commit string, bi *debug.BuildInfo) (version, commitOut string) {
	version = stamped
	if version == "" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" &&
		!pseudoVersion.MatchString(bi.Main.Version) {
		version = strings.TrimPrefix(bi.Main.Version, "v")
	}
	if version == "" {
		version = baseVersion
	}
	if commit == "" && bi != nil {
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if commit != "" && dirty {
			commit += "-dirty"
		}
	}
	if commit != "" && !strings.Contains(version, "+") {
		version += "+" + commit
	}
	return version, commit
}
