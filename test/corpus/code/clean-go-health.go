package server

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"
)

// Health reports liveness and readiness for the load balancer.
type Health struct {
	started time.Time
	ready   atomic.Bool
}

// NewHealth starts the clock; the service is not ready until MarkReady.
func NewHealth() *Health { return &Health{started: time.Now()} }

// MarkReady is called once caches are warm and the database answers.
func (h *Health) MarkReady() { h.ready.Store(true) }

type status struct {
	Status string `json:"status"`
	Uptime string `json:"uptime"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Live always answers 200 while the process runs.
func (h *Health) Live(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, status{Status: "live", Uptime: time.Since(h.started).Round(time.Second).String()})
}

// Ready answers 503 until the service is ready.
func (h *Health) Ready(w http.ResponseWriter, _ *http.Request) {
	if !h.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, status{Status: "starting"})
		return
	}
	writeJSON(w, http.StatusOK, status{Status: "ready"})
}

// Routes registers the two endpoints.
func (h *Health) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /livez", h.Live)
	mux.HandleFunc("GET /readyz", h.Ready)
}
