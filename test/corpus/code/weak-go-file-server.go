package reports

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// Dir is where the nightly job writes its CSV reports.
const Dir = "/var/lib/reports"

// Download streams a report by name.
func Download(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		http.Error(w, "name is required", http.StatusBadRequest)
		return
	}
	f, err := os.Open(filepath.Join(Dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Disposition", "attachment")
	if _, err := io.Copy(w, f); err != nil {
		return
	}
}
