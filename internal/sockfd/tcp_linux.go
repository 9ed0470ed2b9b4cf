package sockfd

import (
	"time"

	"golang.org/x/sys/unix"
)

// SetUserTimeout makes the kernel give up a connection whose sent data
// stays unacknowledged (or unsent, for a window that stays shut) for d
// (TCP_USER_TIMEOUT): a peer that vanished without a FIN or a reset is
// closed in d, not after the fifteen retransmissions of its default
// (about fifteen minutes).
func SetUserTimeout(fd int, d time.Duration) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
}

// Gone reports whether the peer looks gone: data waits for its
// acknowledgement, the retransmission timer has fired at least twice in a
// row without an answer, and nothing was acknowledged for quiet. A live
// peer answers within a round trip, long before; an idle live one whose
// heartbeat is in flight has not had two timeouts.
func Gone(fd int, quiet time.Duration) (bool, error) {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return false, err
	}
	return ti.Unacked > 0 && ti.Retransmits >= 2 && time.Duration(ti.Last_ack_recv)*time.Millisecond >= quiet, nil
}
