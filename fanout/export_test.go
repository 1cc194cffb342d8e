package fanout

// SetRouteBudget makes the routers of srv hold at most n bytes of batches
// to route (routeBudget), so that a test can have them fall behind.
func SetRouteBudget(srv *Server, n uint64) {
	for _, r := range srv.routers {
		r.mu.Lock()
		r.budget = n
		r.mu.Unlock()
	}
}
