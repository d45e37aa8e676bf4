package agent

import (
	"os/exec"
	"time"
)

// watchPeakRSS polls the peak resident set (VmHWM) of cmd's process, which
// must have started, until the process exits, and returns a function that
// waits for that and returns the highest value seen, in KiB. The rusage of a
// finished child (ru_maxrss) cannot be used: Go starts children with vfork
// (CLONE_VM), and at exec the kernel credits the child with the high-water
// resident set of the memory it shared until then, its parent's; a replay
// started by the soak reported the test process's 162 MiB instead of its own
// 58 MiB.
func watchPeakRSS(cmd *exec.Cmd) func() int64 {
	pid := cmd.Process.Pid
	done := make(chan int64, 1)
	go func() {
		peak := int64(0)
		for {
			kb := procStatus(pid, "VmHWM") // absent once the process exited
			if kb < 0 {
				done <- peak
				return
			}
			peak = max(peak, kb)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() int64 { return <-done }
}
