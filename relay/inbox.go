package relay

import (
	"net/http"

	"github.com/runrig/runrig/policy"
	"github.com/runrig/runrig/relay/httpsig"
	"github.com/runrig/runrig/relay/inbox"
)

// newInbox builds the verified inbox pipeline (package inbox) over the
// relay's keys, pins, rules and processing.
func (s *Server) newInbox() *inbox.Pipeline {
	return inbox.New(inbox.Config{
		PublicURL: s.cfg.PublicURL, Host: s.host, MaxBody: s.cfg.MaxBody, TrustedProxies: s.cfg.TrustedProxies,
		Window: httpsig.Window{Past: s.cfg.SignaturePast, Future: s.cfg.SignatureFuture},
		Keys:   s.keys, Pins: s.pins, Limiter: s.limiter, TrustOf: s.trustOf,
		Rules: s.mod.Set, Known: s.slices.Known, Forwarded: s.svc.federation.ForwardedByRelay, MayPin: publishers{s.svc}.MayPublish,
		Process: inbox.ProcessorFunc(s.process), Metrics: inboxMetrics{s}, Log: s.log, PeerLog: s.peerLog,
		OnRefused: s.rejections.inc, Verified: s.signing.learn,
	})
}

// inboxMetrics counts the inbox's work in the relay's metrics.
type inboxMetrics struct{ s *Server }

func (m inboxMetrics) Rejected(reason string) {
	m.s.metrics.rejected.WithLabelValues(reason).Inc()
	m.s.recent.Refused(reason)
}
func (m inboxMetrics) SignatureFailure(reason string) {
	m.s.metrics.sigFailures.WithLabelValues(reason).Inc()
}
func (m inboxMetrics) ProofVerified() { m.s.metrics.proofs.Inc() }
func (m inboxMetrics) Received(typ, result string) {
	m.s.metrics.inbound.WithLabelValues(typ, result).Inc()
}
func (m inboxMetrics) PolicyRefusal(action policy.Action, r *policy.Rule) {
	m.s.countRejection(action, r)
}

// handleInbox serves the inboxes.
func (s *Server) handleInbox(w http.ResponseWriter, r *http.Request) { s.inbox.ServeHTTP(w, r) }
