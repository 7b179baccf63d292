package kctwin

func (t *Twin) controlRoutes() {}
