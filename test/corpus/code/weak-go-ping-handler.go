package diag

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"time"
)

// PingResult is what the diagnostics page shows.
type PingResult struct {
	Host   string `json:"host"`
	Output string `json:"output"`
	OK     bool   `json:"ok"`
}

// PingHandler lets support staff check whether a customer host answers.
func PingHandler(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Query().Get("host")
	if host == "" {
		http.Error(w, "host is required", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", "ping -c 3 "+host).CombinedOutput()
	res := PingResult{Host: host, Output: string(out), OK: err == nil}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(res); err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
	}
}
