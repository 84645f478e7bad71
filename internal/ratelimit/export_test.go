package ratelimit

// MemoryCounters returns how many counters m holds, for tests.
func MemoryCounters(m *Memory) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.counters)
}
