package admin

import (
	"context"
	"net/http"
	"time"
)

// Replicas are the relay processes sharing the store, as the one asked
// sees them.
type Replicas struct {
	// This is the id of the replica that answered.
	This     string    `json:"this"`
	Replicas []Replica `json:"replicas"`
	// Singletons are the leases of the work one replica at a time does.
	Singletons []Singleton `json:"singletons"`
}

// Replica is one relay process and its load.
type Replica struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	StartedAt time.Time `json:"started_at"`
	SeenAt    time.Time `json:"seen_at"`
	// InFlight counts the deliveries it holds now; Delivered and Failed
	// its attempts since it started.
	InFlight  int   `json:"in_flight"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
}

// Singleton is the replica that runs a singleton, until when its lease
// lasts unrenewed.
type Singleton struct {
	Name  string    `json:"name"`
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// Replicas lists the replicas and the singletons each runs.
func (c *Client) Replicas(ctx context.Context) (Replicas, error) {
	var out Replicas
	err := c.do(ctx, http.MethodGet, "/replicas", nil, &out)
	return out, err
}
