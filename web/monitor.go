package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wallcast/wallcast/fanout"
	"github.com/wallcast/wallcast/wall"
)

// monitor is what watches the server: /stats (its own event stream),
// /dashboard, /healthz and /metrics, and the count of requests.
type monitor struct {
	*base
	start    time.Time
	requests atomic.Int64
	hub      *fanout.Hub
	health   func() []wall.SourceHealth
	// endpoints are the outbound endpoints' states.
	endpoints func() []wall.EndpointHealth
	ready     func() error
	slots     *slots
	api       *api
	streams   *atomic.Int64  // open streams that are not screens (/stats, consoles)
	every     *time.Duration // how often /stats sends (Server.StatsInterval)
	closing   chan struct{}
	reg       *prometheus.Registry
}

func (s *monitor) routes(r *mux.Router) {
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/metrics", s.metrics()).Methods(http.MethodGet)
	r.HandleFunc("/stats", s.stats).Methods(http.MethodGet)
	r.HandleFunc("/dashboard", s.dashboard).Methods(http.MethodGet, http.MethodHead)
}

// close ends the /stats streams.
func (s *monitor) close() {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
}

// connections is the number of open SSE streams.
func (s *monitor) connections() int64 {
	return s.streams.Load() + s.hub.Streams()
}

func (s *monitor) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		next.ServeHTTP(w, r)
	})
}

func (s *monitor) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.ready(); err != nil {
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *monitor) dashboard(w http.ResponseWriter, r *http.Request) {
	s.render(w, "dashboard.html", s.Config(), nil)
}

// publicHealth is source health as anyone may see it.
func publicHealth(hs []wall.SourceHealth) []wall.SourceHealth {
	out := make([]wall.SourceHealth, len(hs))
	for i, h := range hs {
		h.LastError = h.PublicError
		out[i] = h
	}
	return out
}

// publicEndpoints are the outbound endpoints as anyone may see them:
// their state and figures, not their host nor what their errors say.
func publicEndpoints(es []wall.EndpointHealth) []byte {
	type public struct {
		Name        string    `json:"name"`
		State       string    `json:"state"`
		Delivered   int64     `json:"delivered"`
		Failed      int       `json:"failed"`
		Behind      int64     `json:"behind"`
		LastSuccess time.Time `json:"last_success,omitzero"`
	}
	out := make([]public, len(es))
	for i, e := range es {
		out[i] = public{Name: e.Name, State: e.State, Delivered: e.Delivered, Failed: e.Failed, Behind: e.Behind, LastSuccess: e.LastSuccess}
	}
	b, _ := json.Marshal(out)
	return b
}

// stats is the server's own monitor stream.
func (s *monitor) stats(w http.ResponseWriter, r *http.Request) {
	release, ok := s.slots.open(w, r, s.Config().Server, s.hub.Relieve)
	if !ok {
		return
	}
	defer release()
	s.streams.Add(1)
	defer s.streams.Add(-1)
	sw := fanout.OpenStream(w, r, s.Config().Server.WriteTimeout.D())
	t := time.NewTicker(*s.every)
	defer t.Stop()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "retry: %d\n\n", s.Config().Server.Retry.D().Milliseconds())
	for {
		health, _ := json.Marshal(publicHealth(s.health()))
		fmt.Fprintf(&buf, "event: connections\ndata: %d\n\n", s.connections())
		fmt.Fprintf(&buf, "event: requests\ndata: %d\n\n", s.requests.Load())
		fmt.Fprintf(&buf, "event: uptime\ndata: %d\n\n", int64(time.Since(s.start).Seconds()))
		state := "ok"
		if err := s.ready(); err != nil {
			state = err.Error()
		}
		fmt.Fprintf(&buf, "event: storage\ndata: %s\n\n", strings.ReplaceAll(state, "\n", " "))
		buf.Write(fanout.Encode(wall.Event{Type: wall.EventSources, Data: health}))
		buf.Write(fanout.Encode(wall.Event{Type: wall.EventOutbound, Data: publicEndpoints(s.endpoints())}))
		if err := sw.Send(buf.Bytes()); err != nil {
			return
		}
		buf.Reset()
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-t.C:
		}
	}
}

// register adds the web side's figures to the app's registry: read from
// the counters the parts keep anyway, when scraped.
func (s *monitor) register(reg *prometheus.Registry) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_sse_connections", Help: "Open SSE streams (screens, consoles, /stats)."},
			func() float64 { return float64(s.connections()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_http_requests_total", Help: "HTTP requests served."},
			func() float64 { return float64(s.requests.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wallcast_uptime_seconds", Help: "Seconds since the server started."},
			func() float64 { return time.Since(s.start).Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_sse_refused_total", Help: "Event streams turned away by max_streams or max_streams_per_client."},
			func() float64 { return float64(s.slots.refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_sse_shed_total", Help: "Screens closed because their peer was gone (half-open) when a screen coming back needed the room."},
			func() float64 { return float64(s.hub.Shed()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wallcast_api_limited_total", Help: "Public API requests answered 429 by api_rate."},
			func() float64 { return float64(s.api.limited.Load()) }),
		healthCollector{s.health},
	)
}

var (
	sourceErrors = prometheus.NewDesc("wallcast_source_errors_total", "Errors of a source since the start.", []string{"source", "type"}, nil)
	sourceState  = prometheus.NewDesc("wallcast_source_state", "1 for the state a source is in.", []string{"source", "type", "state"}, nil)
	sourcePost   = prometheus.NewDesc("wallcast_source_last_post_timestamp_seconds", "When a source last emitted a post.", []string{"source", "type"}, nil)
)

// healthCollector turns the sources' health into metrics at scrape time.
type healthCollector struct{ health func() []wall.SourceHealth }

func (h healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sourceErrors
	ch <- sourceState
	ch <- sourcePost
}

func (h healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sh := range h.health() {
		ch <- prometheus.MustNewConstMetric(sourceErrors, prometheus.CounterValue, float64(sh.Errors), sh.Name, sh.Type)
		ch <- prometheus.MustNewConstMetric(sourceState, prometheus.GaugeValue, 1, sh.Name, sh.Type, string(sh.State))
		if !sh.LastPost.IsZero() {
			ch <- prometheus.MustNewConstMetric(sourcePost, prometheus.GaugeValue, float64(sh.LastPost.Unix()), sh.Name, sh.Type)
		}
	}
}

func (s *monitor) metrics() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}
