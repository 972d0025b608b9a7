package telemetry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the authorization server's Prometheus collectors. Methods
// on a nil *Metrics do nothing, so tests and embedders may omit it.
type Metrics struct {
	Registry          *prometheus.Registry
	requests          *prometheus.CounterVec
	latency           *prometheus.HistogramVec
	tokensIssued      *prometheus.CounterVec
	clientAuthFailure *prometheus.CounterVec
	parRequests       *prometheus.CounterVec
}

// NewMetrics creates the collectors in a fresh registry, together with the
// Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_http_requests_total", Help: "HTTP requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bulwark_http_request_duration_seconds", Help: "HTTP request latency by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"endpoint"}),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_tokens_issued_total", Help: "Access tokens issued by grant type.",
		}, []string{"grant_type"}),
		clientAuthFailure: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_client_auth_failures_total", Help: "Client authentication failures by reason.",
		}, []string{"reason"}),
		parRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_par_requests_total", Help: "Pushed authorization requests by outcome.",
		}, []string{"outcome"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.tokensIssued, m.clientAuthFailure, m.parRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// TokenIssued counts one access token issued through grantType.
func (m *Metrics) TokenIssued(grantType string) {
	if m != nil {
		m.tokensIssued.WithLabelValues(grantType).Inc()
	}
}

// ClientAuthFailed counts one client authentication failure. reason must be
// drawn from a small fixed set (it is a label).
func (m *Metrics) ClientAuthFailed(reason string) {
	if m != nil {
		m.clientAuthFailure.WithLabelValues(reason).Inc()
	}
}

// PARRequest counts one pushed authorization request ("ok" or an error code).
func (m *Metrics) PARRequest(outcome string) {
	if m != nil {
		m.parRequests.WithLabelValues(outcome).Inc()
	}
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Instrument records request count and latency for endpoint.
func (m *Metrics) Instrument(endpoint string, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	lat := m.latency.WithLabelValues(endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		lat.Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(endpoint, strconv.Itoa(sw.status)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
