package psproc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime/debug"
	"testing"

	"github.com/shirou/gopsutil/v3/process"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestOpenHoldsNoDescriptor opens this process and reads what the
// collectors read, many times, with the garbage collector off (so that no
// cleanup closes a leaked descriptor behind the test's back): the open
// descriptors must not grow. gopsutil's own NewProcess, run the same way,
// shows that the count does see the leak it replaces.
func TestOpenHoldsNoDescriptor(t *testing.T) {
	ctx := context.Background()
	self := int32(os.Getpid())
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const n = 300
	fds := openFDs(t)
	for range n {
		p, err := Open(ctx, self)
		if err != nil {
			t.Fatal(err)
		}
		if name, err := p.NameWithContext(ctx); err != nil || name == "" {
			t.Fatalf("Name = %q, %v", name, err)
		}
		if _, err := p.CreateTimeWithContext(ctx); err != nil {
			t.Fatal(err)
		}
		_, _ = p.CmdlineWithContext(ctx)
		_, _ = p.ExeWithContext(ctx)
		_, _ = p.UsernameWithContext(ctx)
	}
	if got := openFDs(t); got > fds {
		t.Errorf("%d Opens left %d more open descriptors (%d -> %d)", n, got-fds, fds, got)
	}

	fds = openFDs(t)
	for range n {
		if _, err := process.NewProcessWithContext(ctx, self); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("for comparison, %d gopsutil NewProcess calls: %d -> %d open descriptors", n, fds, openFDs(t))
}

// TestOpenGone: a pid that no longer runs is an error, not a Process.
func TestOpenGone(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run a child: %v", err)
	}
	_, err := Open(context.Background(), int32(cmd.Process.Pid))
	if !errors.Is(err, process.ErrorProcessNotRunning) {
		t.Errorf("Open(exited child %d) = %v, want ErrorProcessNotRunning", cmd.Process.Pid, err)
	}
	if _, err := Open(context.Background(), 0); err == nil {
		t.Error("Open(0) succeeded")
	}
}
