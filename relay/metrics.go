package relay

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/runrig/runrig/discovery"
	"github.com/runrig/runrig/relay/delivery"
	"github.com/runrig/runrig/relay/store"
)

// metrics are the relay's Prometheus metrics, on a registry of its own.
// Labels are bounded: activity types, results and reasons come from fixed
// sets, never from what a peer sends.
type metrics struct {
	reg *prometheus.Registry

	inbound       *prometheus.CounterVec // type, result
	rejected      *prometheus.CounterVec // reason
	sigFailures   *prometheus.CounterVec // reason
	deliveries    *prometheus.CounterVec // result
	deliveryTime  prometheus.Histogram
	attempts      prometheus.Histogram
	subscriptions *prometheus.CounterVec // event
	listingsBad   *prometheus.CounterVec // reason
	listings      *prometheus.CounterVec // kind
	policy        *prometheus.CounterVec // action, rule
	announcements *prometheus.CounterVec // result
	// relayedObjects counts objects read from their authors' servers
	// because a followed relay passed them on.
	relayedObjects *prometheus.CounterVec // result
	// console counts the moderator console's refused requests.
	console *prometheus.CounterVec // reason
	// verified counts inbound signatures that verified, by kind
	// (httpsig.Kind); knocks counts second knocks, by the kind retried.
	verified *prometheus.CounterVec // kind
	knocks   *prometheus.CounterVec // kind
	// proofs counts FEP-8b32 proofs that verified (failures are
	// signature failures, reasons proof_bad and proof_invalid).
	proofs prometheus.Counter
	// bridgeSyncs counts DFC bridge syncs by result; bridgeItems what they
	// did with catalog items, by outcome.
	bridgeSyncs *prometheus.CounterVec // result
	bridgeItems *prometheus.CounterVec // outcome
}

// newBridgeMetrics makes the DFC bridges' metrics.
func (m *metrics) newBridgeMetrics() {
	m.bridgeSyncs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_bridge_syncs_total", Help: "DFC bridge syncs, by result: ok, not_modified (the catalog server said nothing changed) or failed.",
	}, []string{"result"})
	m.bridgeItems = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_bridge_items_total",
		Help: "DFC catalog items synced, by outcome: created, updated, renewed, deleted, unchanged, sold_out, skipped (refused).",
	}, []string{"outcome"})
	for _, r := range bridgeSyncResults {
		m.bridgeSyncs.WithLabelValues(r)
	}
	for _, o := range bridgeItemOutcomes {
		m.bridgeItems.WithLabelValues(o)
	}
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runrig_inbox_activities_total", Help: "Activities received at the inbox, by type and result.",
		}, []string{"type", "result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runrig_inbox_rejected_total", Help: "Inbox requests refused, by reason.",
		}, []string{"reason"}),
		sigFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runrig_signature_failures_total", Help: "HTTP signature verification failures, by reason.",
		}, []string{"reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runrig_deliveries_total", Help: "Delivery attempts, by result.",
		}, []string{"result"}),
		deliveryTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "runrig_delivery_duration_seconds", Help: "Duration of one delivery request.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		attempts: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "runrig_delivery_attempts", Help: "Attempts a delivery took until it succeeded.",
			Buckets: []float64{1, 2, 3, 5, 8, 13, 20},
		}),
		subscriptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runrig_subscription_events_total", Help: "Subscription events: requested, accepted, rejected, removed.",
		}, []string{"event"}),
	}
	m.listingsBad = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_listings_rejected_total", Help: "Problems found in refused listings, by reason.",
	}, []string{"reason"})
	m.listings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_listings_accepted_total", Help: "Listings accepted for relaying, by kind.",
	}, []string{"kind"})
	m.policy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_policy_rejections_total",
		Help: "Requests, deliveries and fetches refused by moderation, by action and the source of the rule: manual, list, or default (the federation mode).",
	}, []string{"action", "source"})
	m.announcements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_discovery_announcements_total",
		Help: "Discovery announcements checked, by result: verified or the reason they were refused.",
	}, []string{"result"})
	m.relayedObjects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_relayed_object_fetches_total",
		Help: "Objects that followed relays passed on, read from their authors' servers, by result.",
	}, []string{"result"})
	m.console = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_console_refusals_total",
		Help: "Moderator console requests refused, by reason: failed sign-ins, lockouts, missing sessions or form tokens, bad forms.",
	}, []string{"reason"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "runrig_build_info",
		Help: "Build information: the version (as `runrig version` and NodeInfo give it), the commit, and what signs with the RSA key (openssl or go)."},
		[]string{"version", "commit", "signing_backend"})
	backend := ""
	if s != nil { // nil: only the metrics' names are wanted
		backend = s.signing.backend
	}
	build.WithLabelValues(Version, Commit, backend).Set(1)
	m.verified = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_signatures_verified_total", Help: "Inbound HTTP signatures that verified, by kind: cavage, rfc9421 (RSA) or rfc9421-ed25519.",
	}, []string{"kind"})
	m.proofs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "runrig_proofs_verified_total", Help: "FEP-8b32 object integrity proofs (eddsa-jcs-2022) that verified on inbound activities and their objects.",
	})
	m.knocks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_signature_retries_total", Help: "Requests refused (401 or 400) and signed again the other way (the double-knock), by the kind retried.",
	}, []string{"kind"})
	m.initLabels()
	m.newBridgeMetrics()
	m.reg.MustRegister(m.bridgeSyncs, m.bridgeItems)
	m.reg.MustRegister(m.inbound, m.rejected, m.sigFailures, m.deliveries, m.deliveryTime, m.attempts,
		m.subscriptions, m.listingsBad, m.listings, m.policy, m.announcements, m.relayedObjects, m.console, m.verified, m.knocks, m.proofs, build, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{s: s})
	return m
}

func (m *metrics) observeDelivery(r delivery.Result) {
	o := r.Outcome
	switch {
	case o.Dropped != "":
		m.deliveries.WithLabelValues(o.Dropped).Inc()
	case o.Deferred:
		m.deliveries.WithLabelValues("deferred").Inc()
	case o.Delivered:
		m.deliveries.WithLabelValues("delivered").Inc()
		m.deliveryTime.Observe(r.Latency.Seconds())
		m.attempts.Observe(float64(o.Delivery.Attempts + 1))
	case o.Dead:
		m.deliveries.WithLabelValues("dead").Inc()
		m.deliveryTime.Observe(r.Latency.Seconds())
	default:
		m.deliveries.WithLabelValues("failed").Inc()
		m.deliveryTime.Observe(r.Latency.Seconds())
	}
}

// stateCollector reads gauges from the store at scrape time.
type stateCollector struct{ s *Server }

var (
	queueDesc       = prometheus.NewDesc("runrig_delivery_queue", "Deliveries in the durable queue, by state.", []string{"state"}, nil)
	subscribersDesc = prometheus.NewDesc("runrig_subscribers", "Subscriptions to the relay and its slices, by state.", []string{"state"}, nil)
	inflightDesc    = prometheus.NewDesc("runrig_delivery_in_flight", "Deliveries held in memory by the dispatcher.", nil, nil)
	readingDesc     = prometheus.NewDesc("runrig_inbox_bodies_reading", "Inbox request bodies being read (slow clients show here).", nil, nil)
	failingDesc     = prometheus.NewDesc("runrig_subscribers_failing",
		"Subscribers whose every delivery has failed for more than an hour.", nil, nil)
	peersDesc = prometheus.NewDesc("runrig_discovery_peers",
		"Verified peers in the discovery directory, by source (dht, gossip, manual) and state (up, down).", []string{"source", "state"}, nil)
	evictedDesc = prometheus.NewDesc("runrig_discovery_peers_evicted_total",
		"Peers pushed out of the full discovery directory to make room for new ones.", nil, nil)
	followsDesc = prometheus.NewDesc("runrig_relay_follows", "This relay's subscriptions to other relays, by state.", []string{"state"}, nil)
	dhtDesc     = prometheus.NewDesc("runrig_dht_routing_table_peers", "Peers in the DHT routing table (absent when the DHT is off).", nil, nil)
	gossipDesc  = prometheus.NewDesc("runrig_gossip_members", "Live members of the gossip cluster, this node included (absent when gossip is off).", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- subscribersDesc
	ch <- inflightDesc
	ch <- readingDesc
	ch <- failingDesc
	ch <- peersDesc
	ch <- evictedDesc
	ch <- followsDesc
	ch <- dhtDesc
	ch <- gossipDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	if depth, err := c.s.store.QueueDepth(ctx); err == nil {
		for st, n := range depth {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), string(st))
		}
	}
	if sum, err := c.s.store.SubscriberSummary(ctx, time.Now().Add(-failingAfter)); err == nil {
		for _, st := range []store.SubscriptionState{store.Pending, store.Accepted, store.Rejected} {
			ch <- prometheus.MustNewConstMetric(subscribersDesc, prometheus.GaugeValue, float64(sum.ByState[st]), string(st))
		}
		ch <- prometheus.MustNewConstMetric(failingDesc, prometheus.GaugeValue, float64(sum.Failing))
	}
	ch <- prometheus.MustNewConstMetric(inflightDesc, prometheus.GaugeValue, float64(c.s.dispatcher.InFlight()))
	ch <- prometheus.MustNewConstMetric(readingDesc, prometheus.GaugeValue, float64(c.s.inbox.Reading()))
	c.collectDiscovery(ctx, ch)
}

// failingAfter is how long a subscriber's deliveries must have failed
// without a success for it to count as failing.
const failingAfter = time.Hour

// failingFor is how long every delivery to a subscriber has failed: since
// its last success (or since it subscribed), when its last attempt failed.
func failingFor(st store.SubscriberStatus, now time.Time) time.Duration {
	h := st.Health
	if h.ConsecutiveFailures == 0 || h.LastFailure.Before(h.LastSuccess) {
		return 0
	}
	since := h.LastSuccess
	if since.IsZero() {
		since = st.CreatedAt
	}
	return now.Sub(since)
}

// collectDiscovery reports the directory, relay follows and the state of
// the discovery layers. Every label value comes from a fixed set.
func (c *stateCollector) collectDiscovery(ctx context.Context, ch chan<- prometheus.Metric) {
	peers := map[[2]string]int{}
	for _, src := range []discovery.Source{discovery.SourceDHT, discovery.SourceGossip, discovery.SourceManual} {
		peers[[2]string{string(src), "up"}], peers[[2]string{string(src), "down"}] = 0, 0
	}
	for _, e := range c.s.directory.List(time.Now()) {
		state := "up"
		if e.Down {
			state = "down"
		}
		for _, src := range e.Sources {
			peers[[2]string{string(src), state}]++
		}
	}
	for k, n := range peers {
		ch <- prometheus.MustNewConstMetric(peersDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	ch <- prometheus.MustNewConstMetric(evictedDesc, prometheus.CounterValue, float64(c.s.directory.Evicted()))
	if follows, err := c.s.store.RelayFollows(ctx); err == nil {
		counts := map[store.SubscriptionState]int{store.Pending: 0, store.Accepted: 0, store.Rejected: 0}
		for _, f := range follows {
			counts[f.State]++
		}
		for st, n := range counts {
			ch <- prometheus.MustNewConstMetric(followsDesc, prometheus.GaugeValue, float64(n), string(st))
		}
	}
	if d := c.s.node.Load().DHT(); d != nil {
		ch <- prometheus.MustNewConstMetric(dhtDesc, prometheus.GaugeValue, float64(d.RoutingTableSize()))
	}
	if g := c.s.node.Load().Gossip(); g != nil {
		ch <- prometheus.MustNewConstMetric(gossipDesc, prometheus.GaugeValue, float64(g.Members()))
	}
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// MetricNames lists the name of every metric the relay exports, sorted (a
// histogram by its base name), for checking dashboards and alerting rules
// against.
func MetricNames() []string {
	m := newMetrics(nil)
	ch := make(chan *prometheus.Desc, 64)
	go func() { m.reg.Describe(ch); close(ch) }()
	var names []string
	for d := range ch {
		if sub := fqName.FindStringSubmatch(d.String()); sub != nil {
			names = append(names, sub[1])
		}
	}
	sort.Strings(names)
	return names
}

// fqName finds a metric's name in its description.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)
