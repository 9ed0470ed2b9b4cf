//go:build !linux

package fanout

import (
	"errors"
	"net"
	"time"
)

// Elsewhere than Linux there is no engine: every screen has its goroutine.
type Engine struct{}

func newEngine(time.Duration) *Engine     { return nil }
func (e *Engine) Head(string) uint64      { return 0 }
func (e *Engine) publish(string, []Frame) {}
func (e *Engine) Adopt(net.Conn, string, uint64, int64, func()) error {
	return errors.New("no engine")
}
func (e *Engine) close()          {}
func (e *Engine) Open() int64     { return 0 }
func (e *Engine) pingAll()        {}
func (e *Engine) dropWall(string) {}

// ShedDead is the Linux engine's; elsewhere there is no engine.
func (e *Engine) ShedDead(time.Duration) int { return 0 }

func (e *Engine) setRelief(func() int) {}
