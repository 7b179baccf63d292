package kctwin

// writeRoutes registers the Admin API writes.
func (t *Twin) writeRoutes(r func(method, path string, mode lockMode, h func(rc *rctx) resp)) {}
