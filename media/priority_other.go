//go:build !linux

package media

// lowerPriority does nothing where a thread's priority cannot be set on
// its own.
func lowerPriority() (undo func()) { return func() {} }
