package relay

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/adminapi"
	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/subscription"
)

// RetryDead requeues dead deliveries (all of them when ids is empty) and
// wakes the dispatcher; it returns how many were requeued.
func (s *Server) RetryDead(ctx context.Context, op policy.Operator, ids []int64) (int, error) {
	now := time.Now()
	subject := "all"
	if len(ids) > 0 {
		subject = fmt.Sprint(ids)
	}
	n, err := s.store.RetryDead(ctx, ids, now, &store.AuditEntry{At: now, Who: op.Who, What: "deliveries.retry",
		Subject: subject, Why: op.Why, Source: "manual"})
	if err != nil {
		return 0, err
	}
	s.log.Info("dead deliveries requeued by operator", "count", n)
	s.dispatcher.Notify()
	return n, nil
}

// AdminHandler returns the admin API handler (package adminapi). Every
// request must carry the bearer token written beside the admin socket.
func (s *Server) AdminHandler() http.Handler {
	return adminapi.New(adminapi.Services{Subscriptions: operatorActions{s.svc.subs, s}, Moderation: s.mod, Lists: s.mod, Peers: s, Store: s.store,
		Moderators: s.accounts, Bridges: bridgeAdmin{s.svc.bridges}, SignsWith: s.signing.signsWith, Replicas: s.repl},
		func() string { return s.adminToken })
}

// operatorActions are the operator's actions on subscriptions (the
// subscription service) and on the queue and store (the Server).
type operatorActions struct {
	*subscription.Service
	*Server
}
