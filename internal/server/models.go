package server

import (
	"encoding/json"
	"net/http"

	"github.com/tollgate/tollgate/internal/openai"
)

// listModels answers GET /v1/models with the models the key may use,
// aliases included.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	list := openai.ModelList{Object: "list", Data: []openai.Model{}}
	for _, m := range s.opts.Routes.Models() {
		for _, name := range append([]string{m.Name}, m.Aliases...) {
			if p.Allows(m.Name) || p.Allows(name) {
				list.Data = append(list.Data, openai.Model{ID: name, Object: "model", Created: s.started.Unix(), OwnedBy: m.OwnedBy})
			}
		}
	}
	writeJSON(w, http.StatusOK, list)
}

// getModel answers GET /v1/models/{id}.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, ok := s.opts.Routes.Resolve(id)
	p := principalFrom(r.Context())
	if !ok || !(p.Allows(m.Name) || p.Allows(id)) {
		s.writeError(w, r, modelNotFound(id))
		return
	}
	writeJSON(w, http.StatusOK, openai.Model{ID: id, Object: "model", Created: s.started.Unix(), OwnedBy: m.OwnedBy})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.opts.Ready(); err != nil {
		s.writeError(w, r, &apiError{Status: http.StatusServiceUnavailable, Type: typeServerError, Code: "not_ready",
			Message: "tollgate is not ready: " + err.Error(), Cause: err})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// notFound answers unknown routes.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "unknown_url",
		Message: "Unknown request URL: " + r.Method + " " + clip(r.URL.Path, 200) + ". tollgate serves POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings and GET /v1/models; check the base URL ends in /v1."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
