package deploy_test

import (
	"github.com/runrig/runrig/relay"
	"github.com/runrig/runrig/relay/settings"
)

// settingsCheck checks a configuration file with the relay's loader.
func settingsCheck(path string) (relay.Config, error) { return settings.Check(path) }
