package probe

import (
	"context"
	"fmt"
	"net"
	"time"
)

// dial connects to addr over TCP. The connection's deadline is the context's
// (or now+DefaultTimeout), and cancelling ctx interrupts any blocked read or
// write; the returned stop function must be called before the connection is
// closed.
func dial(ctx context.Context, addr string) (net.Conn, func() bool, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	d := net.Dialer{Deadline: deadline}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("set deadline on %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return c, stop, nil
}

// ctxErr prefers the context's error over err when the context ended, so
// that a cancelled probe says "context canceled" rather than "i/o timeout".
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}
