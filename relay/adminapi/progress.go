package adminapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/runrig/runrig/relay/admin"
)

// progressGap is the shortest time between two progress lines of one
// step: a client on a terminal redraws at most ten times a second.
const progressGap = 100 * time.Millisecond

// keepAliveEvery is how often the last progress line is repeated while
// work reports nothing new.
const keepAliveEvery = time.Second

// reportFunc hears how far long work is (policy.Progress's shape).
type reportFunc = func(step string, done, total int)

// progressive answers a request for long work. A client that asks for
// progress (Accept: admin.ProgressType) gets a stream of events once the
// work reports its first step — progress lines, then the result or the
// error — and an error before that keeps its status. Any other client
// gets one JSON answer.
func progressive(w http.ResponseWriter, r *http.Request, unit string, status func(error) int,
	work func(report reportFunc) (any, error)) {
	if !strings.Contains(r.Header.Get("Accept"), admin.ProgressType) {
		v, err := work(nil)
		answerWith(w, v, err, status)
		return
	}
	s := &progressStream{w: w, rc: http.NewResponseController(w), unit: unit}
	stop := s.keepAlive()
	v, err := work(s.report)
	stop()
	if !s.started {
		answerWith(w, v, err, status)
		return
	}
	if err != nil {
		s.send(admin.Event{Error: err.Error()})
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.send(admin.Event{Error: err.Error()})
		return
	}
	s.send(admin.Event{Result: b})
}

// answerWith writes v, or err with the status status gives it.
func answerWith(w http.ResponseWriter, v any, err error, status func(error) int) {
	if err != nil {
		adminError(w, status(err), err)
		return
	}
	adminJSON(w, v)
}

// progressStream writes progress lines to one client.
type progressStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	unit string

	// mu guards the following fields and writes to w.
	mu      sync.Mutex
	started bool
	// last is the last progress line and sent when it went.
	last *admin.Progress
	sent time.Time
}

// report sends a progress line: at once for a new step or its end, else
// at most once every progressGap.
func (s *progressStream) report(step string, done, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil && step == s.last.Step && (total == 0 || done < total) && time.Since(s.sent) < progressGap {
		return
	}
	s.last, s.sent = &admin.Progress{Step: step, Done: done, Total: total, Unit: s.unit}, time.Now()
	s.sendLocked(admin.Event{Progress: s.last})
}

// keepAlive repeats the last progress line every keepAliveEvery while a
// step reports nothing (one long transaction), so that the client's clock
// moves; stop ends it.
func (s *progressStream) keepAlive() (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(keepAliveEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			s.mu.Lock()
			if s.last != nil && time.Since(s.sent) >= keepAliveEvery {
				s.sent = time.Now()
				s.sendLocked(admin.Event{Progress: s.last})
			}
			s.mu.Unlock()
		}
	}()
	return func() { close(done); <-finished }
}

// send writes one event line.
func (s *progressStream) send(ev admin.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendLocked(ev)
}

// sendLocked writes one event line and flushes it, starting the stream
// first.
func (s *progressStream) sendLocked(ev admin.Event) {
	if !s.started {
		s.started = true
		s.w.Header().Set("Content-Type", admin.ProgressType)
		s.w.Header().Set("Cache-Control", "no-store")
		s.w.WriteHeader(http.StatusOK)
	}
	json.NewEncoder(s.w).Encode(ev)
	s.rc.Flush()
}
