//go:build !linux

package wall

import (
	"errors"
	"net"
	"time"
)

// Elsewhere than Linux there is no engine: every screen has its goroutine.
type engine struct{}

func newEngine(time.Duration) *engine                         { return nil }
func (e *engine) head(string) uint64                          { return 0 }
func (e *engine) publish(string, []Frame)                     {}
func (e *engine) adopt(net.Conn, string, uint64, int64) error { return errors.New("no engine") }
func (e *engine) close()                                      {}
func (e *engine) wakeAll()                                    {}
func (e *engine) open() int64                                 { return 0 }
func (e *engine) pingAll()                                    {}
func (e *engine) dropWall(string)                             {}
