package telemetry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// GatewayMetrics holds the gateway role's Prometheus collectors, in a
// registry of their own (a gateway process runs no authorization server).
// Methods on a nil *GatewayMetrics do nothing. Every label value must come
// from a small fixed set: route names from the configuration, outcomes and
// reasons from the code, never from requests.
type GatewayMetrics struct {
	Registry       *prometheus.Registry
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	senderFailures *prometheus.CounterVec
	asRequests     *prometheus.CounterVec
	introspection  *prometheus.CounterVec
}

// NewGatewayMetrics creates the gateway collectors in a fresh registry,
// together with the Go runtime and process collectors.
func NewGatewayMetrics() *GatewayMetrics {
	m := &GatewayMetrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_gateway_requests_total",
			Help: "Gateway requests by route and outcome: proxied, upstream_error, upstream_timeout, policy_denied, not_found, method_not_allowed, bad_path, or the token check's failure reason.",
		}, []string{"route", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bulwark_gateway_request_duration_seconds", Help: "Gateway request latency by route, upstream time included.",
			Buckets: []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		senderFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_gateway_sender_constraint_failures_total", Help: "Refused DPoP proofs and client certificates by binding (dpop, mtls) and reason.",
		}, []string{"binding", "reason"}),
		asRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_gateway_authorization_server_requests_total", Help: "Requests to the authorization server by kind (metadata, jwks, introspection) and outcome (ok, error); kind=jwks counts JWKS refreshes.",
		}, []string{"kind", "outcome"}),
		introspection: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_gateway_introspection_total", Help: "Token introspection lookups of accepted tokens by result (cache_hit, call).",
		}, []string{"result"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.senderFailures, m.asRequests, m.introspection,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request records one request of route that ended with outcome after d.
func (m *GatewayMetrics) Request(route, outcome string, d time.Duration) {
	if m != nil {
		m.requests.WithLabelValues(route, outcome).Inc()
		m.latency.WithLabelValues(route).Observe(d.Seconds())
	}
}

// SenderConstraintFailed counts one refused DPoP proof or client
// certificate; binding is "dpop" or "mtls".
func (m *GatewayMetrics) SenderConstraintFailed(binding, reason string) {
	if m != nil {
		m.senderFailures.WithLabelValues(binding, reason).Inc()
	}
}

// AuthorizationServerRequest counts one request to the authorization
// server; kind is metadata, jwks or introspection, outcome ok or error.
func (m *GatewayMetrics) AuthorizationServerRequest(kind, outcome string) {
	if m != nil {
		m.asRequests.WithLabelValues(kind, outcome).Inc()
	}
}

// Introspection counts how an accepted token's introspection answer was
// found: "cache_hit" or "call".
func (m *GatewayMetrics) Introspection(result string) {
	if m != nil {
		m.introspection.WithLabelValues(result).Inc()
	}
}

// Handler serves the registry in the Prometheus exposition format.
func (m *GatewayMetrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
