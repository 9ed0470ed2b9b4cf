package media

import (
	"runtime"
	"sync"
	"syscall"
)

// lowerPriority sets the calling thread's nice value to 19 (on Linux,
// setpriority with a thread id applies to that thread alone) and gives
// the Go runtime one more P for it: the kernel may leave the thread
// waiting while others run, and a P held by a waiting thread would be
// one P less for the screens. It returns what undoes the extra P.
func lowerPriority() (undo func()) {
	syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
	extraPs.Lock()
	defer extraPs.Unlock()
	if extraPs.n == 0 {
		extraPs.base = runtime.GOMAXPROCS(0)
	}
	extraPs.n++
	runtime.GOMAXPROCS(extraPs.base + extraPs.n)
	return func() {
		extraPs.Lock()
		defer extraPs.Unlock()
		if extraPs.n--; extraPs.n == 0 {
			runtime.SetDefaultGOMAXPROCS()
		} else {
			runtime.GOMAXPROCS(extraPs.base + extraPs.n)
		}
	}
}

// extraPs counts the workers that brought a P of their own.
var extraPs struct {
	sync.Mutex
	n, base int
}
