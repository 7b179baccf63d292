package kctwin

type activityRun struct{}

// StopActivity stops the activity generator, if running, and waits for it.
func (t *Twin) StopActivity() {}
