package media

import "syscall"

// lowerPriority sets the calling thread's nice value to 19: on Linux,
// setpriority with a thread id applies to that thread alone.
func lowerPriority() {
	syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
