package telemetry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// BFFMetrics holds the BFF role's Prometheus collectors in a registry of
// their own. Methods on a nil *BFFMetrics do nothing. Label values come
// from fixed sets in the code, never from requests.
type BFFMetrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	refresh  *prometheus.CounterVec
	ended    *prometheus.CounterVec
}

// NewBFFMetrics creates the BFF collectors in a fresh registry, together
// with the Go runtime and process collectors.
func NewBFFMetrics() *BFFMetrics {
	m := &BFFMetrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_bff_requests_total", Help: "BFF requests by handler (start, callback, sign_out, userinfo, auth, backchannel_logout, api, static) and outcome.",
		}, []string{"handler", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bulwark_bff_request_duration_seconds", Help: "BFF request latency by handler, upstream time included.",
			Buckets: []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"handler"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_bff_logins_total", Help: "Completed callbacks by outcome (ok, rejected, error).",
		}, []string{"outcome"}),
		refresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_bff_token_refreshes_total", Help: "Token refreshes by outcome (ok, failed: session ended, error: kept the current token).",
		}, []string{"outcome"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_bff_sessions_ended_total", Help: "Sessions ended by reason (sign_out, refresh_failed, backchannel_logout, rotated).",
		}, []string{"reason"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.logins, m.refresh, m.ended,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request records one request of handler that ended with outcome after d.
func (m *BFFMetrics) Request(handler, outcome string, d time.Duration) {
	if m != nil {
		m.requests.WithLabelValues(handler, outcome).Inc()
		m.latency.WithLabelValues(handler).Observe(d.Seconds())
	}
}

// Login counts one callback by outcome.
func (m *BFFMetrics) Login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// Refresh counts one token refresh by outcome.
func (m *BFFMetrics) Refresh(outcome string) {
	if m != nil {
		m.refresh.WithLabelValues(outcome).Inc()
	}
}

// SessionEnded counts one ended session by reason.
func (m *BFFMetrics) SessionEnded(reason string) {
	if m != nil {
		m.ended.WithLabelValues(reason).Inc()
	}
}

// Handler serves the registry in the Prometheus exposition format.
func (m *BFFMetrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
