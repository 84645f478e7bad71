package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/tollgate/tollgate/internal/logview"
	"github.com/tollgate/tollgate/internal/store"
)

// AdminLogs is the request-log side of the admin API (GET /admin/logs,
// /admin/logs/{request_id}, /admin/usage). It is optional: the routes
// exist when Options.Admin also implements it, as every store.Store does.
type AdminLogs interface {
	ListRequestLogs(ctx context.Context, f store.LogFilter) ([]store.RequestLog, error)
	ListAttempts(ctx context.Context, requestID string) ([]store.Attempt, error)
	Usage(ctx context.Context, f store.UsageFilter) ([]store.UsageRow, error)
}

var _ AdminLogs = store.Store(nil)

// adminLogRoutes registers the request-log admin API when logs is set.
func (s *Server) adminLogRoutes(mux *http.ServeMux, logs AdminLogs) {
	mux.Handle("/admin/logs", s.adminAPI(map[string]http.HandlerFunc{
		http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.adminListLogs(w, r, logs) }}))
	mux.Handle("/admin/logs/{request_id}", s.adminAPI(map[string]http.HandlerFunc{
		http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.adminShowLog(w, r, logs) }}))
	mux.Handle("/admin/usage", s.adminAPI(map[string]http.HandlerFunc{
		http.MethodGet: func(w http.ResponseWriter, r *http.Request) { s.adminUsage(w, r, logs) }}))
}

// filterError maps a bad query parameter to a 400.
func filterError(err error) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_filter",
		Message: "Invalid query parameter: " + err.Error() + ".", Cause: err}
}

// adminListLogs answers GET /admin/logs?key=&model=&status=&error_type=&since=&until=&request_id=&limit=,
// newest first.
func (s *Server) adminListLogs(w http.ResponseWriter, r *http.Request, logs AdminLogs) {
	f, err := logview.QueryOf(r.URL.Query()).Filter(s.opts.Now())
	if err != nil {
		s.writeError(w, r, filterError(err))
		return
	}
	rows, err := logs.ListRequestLogs(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": logview.RowsOf(rows)})
}

// adminShowLog answers GET /admin/logs/{request_id}: the newest row with
// that id, its attempt timeline and its stored bodies, if any.
func (s *Server) adminShowLog(w http.ResponseWriter, r *http.Request, logs AdminLogs) {
	id := r.PathValue("request_id")
	rows, err := logs.ListRequestLogs(r.Context(), store.LogFilter{RequestID: id, Limit: 1, Bodies: true})
	if err == nil && len(rows) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, notFoundError("request_not_found", "The request "+quote(id)))
			return
		}
		s.writeError(w, r, err)
		return
	}
	attempts, err := logs.ListAttempts(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, logview.DetailOf(rows[0], attempts))
}

// adminUsage answers GET /admin/usage?by=key|model|group|day&since=&until=.
func (s *Server) adminUsage(w http.ResponseWriter, r *http.Request, logs AdminLogs) {
	q := r.URL.Query()
	f, err := logview.UsageFilter(q.Get("by"), q.Get("since"), q.Get("until"), s.opts.Now())
	if err != nil {
		s.writeError(w, r, filterError(err))
		return
	}
	rows, err := logs.Usage(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "by": string(f.By), "data": logview.UsageOf(f.By, rows)})
}
