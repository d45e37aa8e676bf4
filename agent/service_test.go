package agent

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeward/edgeward/agent/internal/config"
)

// TestServiceProgramExitsWhenAgentFails: under a service manager, an agent
// that cannot start (here: its buffer directory cannot be created) must end
// the process with a non-zero code and log why, not leave a service that
// the manager reports as running while nothing runs.
func TestServiceProgramExitsWhenAgentFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("test.yaml", []byte("agent: {id: svc}\nbuffer: {path: "+filepath.Join(blocker, "buffer.db")+
		"}\nuplink: {brokers: []}\nlimits: {memory: 0}\ncollectors: {host: {enabled: false}, baseline: {enabled: false}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	codes := make(chan int, 1)
	p := &serviceProgram{cfg: c, log: slog.New(slog.NewTextHandler(&logs, nil)), exit: func(code int) { codes <- code }}
	if err := p.Start(nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	select {
	case code := <-codes:
		if code == 0 {
			t.Errorf("exit code 0 after a failed start")
		}
	case <-time.After(30 * time.Second): // a safety net, not a timing assertion
		t.Fatal("the service program did not exit after the agent failed to start")
	}
	if s := logs.String(); !strings.Contains(s, "open buffer") {
		t.Errorf("the cause is not logged: %s", s)
	}
	if err := <-p.done; err == nil {
		t.Error("runAgent returned nil after a failed start")
	}
}
