package config_test

import (
	"errors"
	"fmt"

	"github.com/edgeward/edgeward/agent/internal/config"
)

func ExampleParse() {
	l := config.Loader{
		AgentID:   func() string { return "gw-1" },
		LookupEnv: func(string) (string, bool) { return "", false },
	}
	_, err := l.Parse("configs/agent.yaml", []byte("uplink:\n  in_flight: 0\nlog:\n  level: loud\n"))
	fmt.Println(err)
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Println(ce.Line, ce.Key)
	}
	// Output:
	// configs/agent.yaml:2: uplink.in_flight: must be between 1 and 1024, got 0
	// configs/agent.yaml:4: log.level: must be one of debug, info, warn, error, got "loud"
	// 2 uplink.in_flight
}
