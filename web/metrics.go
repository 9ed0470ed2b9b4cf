package web

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newRegistry holds the server's Prometheus metrics: read from the counters
// the server keeps anyway, when scraped.
func (s *Server) newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_sse_connections", Help: "Open SSE streams (screens, consoles, /stats)."},
			func() float64 { return float64(s.Connections()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_http_requests_total", Help: "HTTP requests served."},
			func() float64 { return float64(s.requests.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_uptime_seconds", Help: "Seconds since the server started."},
			func() float64 { return time.Since(s.start).Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_sse_refused_total", Help: "Event streams turned away by max_streams or max_streams_per_client."},
			func() float64 { return float64(s.refusedStreams.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_api_limited_total", Help: "Public API requests answered 429 by api_rate."},
			func() float64 { return float64(s.limitedRequests.Load()) }),
		healthCollector{s},
	)
	return reg
}

// Metrics is the registry /metrics serves; more collectors may join it.
func (s *Server) Metrics() *prometheus.Registry { return s.reg }

var (
	sourceErrors = prometheus.NewDesc("wallcast_source_errors_total", "Errors of a source since the start.", []string{"source", "type"}, nil)
	sourceState  = prometheus.NewDesc("wallcast_source_state", "1 for the state a source is in.", []string{"source", "type", "state"}, nil)
	sourcePost   = prometheus.NewDesc("wallcast_source_last_post_timestamp_seconds", "When a source last emitted a post.", []string{"source", "type"}, nil)
)

// healthCollector turns the sources' health into metrics at scrape time.
type healthCollector struct{ s *Server }

func (h healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sourceErrors
	ch <- sourceState
	ch <- sourcePost
}

func (h healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sh := range h.s.health() {
		ch <- prometheus.MustNewConstMetric(sourceErrors, prometheus.CounterValue, float64(sh.Errors), sh.Name, sh.Type)
		ch <- prometheus.MustNewConstMetric(sourceState, prometheus.GaugeValue, 1, sh.Name, sh.Type, string(sh.State))
		if !sh.LastPost.IsZero() {
			ch <- prometheus.MustNewConstMetric(sourcePost, prometheus.GaugeValue, float64(sh.LastPost.Unix()), sh.Name, sh.Type)
		}
	}
}

func (s *Server) metrics() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}
