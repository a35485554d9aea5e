package relay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/runrig/runrig/relay"
)

// Replica timings that would make a live replica look dead are refused,
// naming the setting.
func TestReplicaTimingsChecked(t *testing.T) {
	for _, c := range []struct {
		name string
		set  relay.ReplicasConfig
		want string // "" for valid
	}{
		{"defaults", relay.ReplicasConfig{}, ""},
		{"dead after three heartbeats", relay.ReplicasConfig{Heartbeat: time.Second, DeadAfter: 3 * time.Second}, ""},
		{"dead too soon", relay.ReplicasConfig{Heartbeat: 5 * time.Second}, "replica-dead-after 10s"},
		{"lease shorter than a beat", relay.ReplicasConfig{LeaseTTL: time.Second}, "singleton leases"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := relay.Defaults()
			cfg.PublicURL = "https://relay.example"
			cfg.Replicas = c.set
			err := relay.CheckConfig(cfg)
			if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Errorf("CheckConfig = %v, want %q", err, c.want)
			}
		})
	}
}
