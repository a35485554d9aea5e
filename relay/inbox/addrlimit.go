package inbox

import "sync"

// addrLimit bounds how many requests from one client address are in one
// stage at once (reading their bodies).
type addrLimit struct {
	max int

	// mu guards the following fields.
	mu    sync.Mutex
	n     map[string]int
	total int
}

func newAddrLimit(max int) *addrLimit { return &addrLimit{max: max, n: map[string]int{}} }

// acquire takes one of addr's places, or reports that none is left.
func (l *addrLimit) acquire(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[addr] >= l.max {
		return false
	}
	l.n[addr]++
	l.total++
	return true
}

// open returns how many places are taken, over all addresses.
func (l *addrLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// release gives one of addr's places back.
func (l *addrLimit) release(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.n[addr]--; l.n[addr] <= 0 {
		delete(l.n, addr) // the map holds only addresses with reads open
	}
}
