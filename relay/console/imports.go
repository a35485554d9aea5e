package console

import (
	"sync"
	"time"
)

// Uploaded lists wait on the server between their preview and the import,
// so that what is imported is exactly what was previewed and the list
// never travels back to the browser. They are few and short-lived.
const (
	// maxPendingImports bounds the uploads waiting (each up to
	// policy.MaxListBytes); a new one replaces its moderator's earlier
	// one, and beyond the bound the oldest goes.
	maxPendingImports = 4
	// pendingImportTTL is how long an upload waits for its import.
	pendingImportTTL = 15 * time.Minute
)

// pendingImport is a previewed upload.
type pendingImport struct {
	moderator, name, action string
	draft                   bool
	data                    []byte
	at                      time.Time
}

// pendingImports hold previewed uploads by id.
type pendingImports struct {
	mu sync.Mutex // guards m
	m  map[string]pendingImport
}

func newPendingImports() *pendingImports { return &pendingImports{m: map[string]pendingImport{}} }

// put keeps p and returns its id.
func (q *pendingImports) put(p pendingImport) string {
	id, _ := newToken()
	q.mu.Lock()
	defer q.mu.Unlock()
	var oldest string
	for k, v := range q.m {
		if v.moderator == p.moderator || p.at.Sub(v.at) > pendingImportTTL {
			delete(q.m, k)
			continue
		}
		if oldest == "" || v.at.Before(q.m[oldest].at) {
			oldest = k
		}
	}
	if len(q.m) >= maxPendingImports {
		delete(q.m, oldest)
	}
	q.m[id] = p
	return id
}

// take removes and returns moderator's upload id, if it is still there.
func (q *pendingImports) take(id, moderator string, now time.Time) (pendingImport, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p, ok := q.m[id]
	if !ok || p.moderator != moderator || now.Sub(p.at) > pendingImportTTL {
		return pendingImport{}, false
	}
	delete(q.m, id)
	return p, true
}
