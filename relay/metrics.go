package relay

import (
	"context"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"net/http"

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
	// The rule label is a rule id: bounded by the rules moderators keep.
	m.policy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_policy_rejections_total",
		Help: "Requests, deliveries and fetches refused by moderation, by action and rule id (default: the federation mode).",
	}, []string{"action", "rule"})
	m.announcements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runrig_discovery_announcements_total",
		Help: "Discovery announcements checked, by result: verified or the reason they were refused.",
	}, []string{"result"})
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "runrig_build_info", Help: "Build information."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	m.reg.MustRegister(m.inbound, m.rejected, m.sigFailures, m.deliveries, m.deliveryTime, m.attempts,
		m.subscriptions, m.listingsBad, m.listings, m.policy, m.announcements, build, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
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
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- subscribersDesc
	ch <- inflightDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	if depth, err := c.s.store.QueueDepth(ctx); err == nil {
		for st, n := range depth {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), string(st))
		}
	}
	if sts, err := c.s.store.SubscriberStatuses(ctx); err == nil {
		counts := map[store.SubscriptionState]int{store.Pending: 0, store.Accepted: 0, store.Rejected: 0}
		for _, st := range sts {
			counts[st.State]++
		}
		for st, n := range counts {
			ch <- prometheus.MustNewConstMetric(subscribersDesc, prometheus.GaugeValue, float64(n), string(st))
		}
	}
	ch <- prometheus.MustNewConstMetric(inflightDesc, prometheus.GaugeValue, float64(c.s.dispatcher.InFlight()))
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}
