package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds Synchroniser's Prometheus metrics, in a registry of its own.
type Metrics struct {
	Registry *prometheus.Registry

	syncs      *prometheus.CounterVec   // by outcome
	duration   *prometheus.HistogramVec // by outcome
	changesets prometheus.Counter
	webhooks   *prometheus.CounterVec // by provider, status
	lag        *prometheus.GaugeVec   // by mirror

	mu    sync.Mutex
	depth func(ctx context.Context) (int, error)
}

// NewMetrics registers the metrics in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synchroniser_syncs_total", Help: "Sync runs finished, by outcome.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "synchroniser_sync_duration_seconds", Help: "Wall time of sync runs, by outcome.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"outcome"}),
		changesets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "synchroniser_changesets_converted_total", Help: "Changesets (or commits) new in the destination after syncs.",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "synchroniser_webhook_requests_total", Help: "Webhook and /synchronise/ requests, by provider and HTTP status.",
		}, []string{"provider", "status"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "synchroniser_mirror_lag_changesets", Help: "Changesets in the source not yet in the destination, after the latest run.",
		}, []string{"mirror"}),
	}
	m.Registry.MustRegister(m.syncs, m.duration, m.changesets, m.webhooks, m.lag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "synchroniser_queue_depth", Help: "Sync jobs waiting or running.",
		}, m.queueDepth),
	)
	return m
}

// ObserveSync records a finished sync run. The queue's workers call it.
func (m *Metrics) ObserveSync(mirror, outcome string, d time.Duration, changesets, lag int) {
	m.syncs.WithLabelValues(outcome).Inc()
	m.duration.WithLabelValues(outcome).Observe(d.Seconds())
	if changesets > 0 {
		m.changesets.Add(float64(changesets))
	}
	if lag >= 0 {
		m.lag.WithLabelValues(mirror).Set(float64(lag))
	}
}

// SetQueueDepth installs the function the queue depth gauge reads.
func (m *Metrics) SetQueueDepth(f func(ctx context.Context) (int, error)) {
	m.mu.Lock()
	m.depth = f
	m.mu.Unlock()
}

func (m *Metrics) queueDepth() float64 {
	m.mu.Lock()
	f := m.depth
	m.mu.Unlock()
	if f == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := f(ctx)
	if err != nil {
		return -1
	}
	return float64(n)
}

func (m *Metrics) webhook(provider string, status int) {
	m.webhooks.WithLabelValues(provider, strconv.Itoa(status)).Inc()
}

// refreshLag sets the lag gauge of every known mirror from the store, so
// that runs made by other processes (workers elsewhere) show too.
func (s *Server) refreshLag(ctx context.Context) {
	for _, name := range s.mirrorNames() {
		st, err := s.store.MirrorStats(ctx, name)
		if err != nil || st.Lag < 0 {
			continue
		}
		s.metrics.lag.WithLabelValues(name).Set(float64(st.Lag))
	}
}

// metricsHandler serves /metrics.
func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		s.refreshLag(ctx)
		cancel()
		h.ServeHTTP(w, r)
	})
}
