// Command edgeward is the edgeward security agent: host inventory, baseline
// checks and passive ICS network observation, buffered on disk and uplinked
// over MQTT. Run `edgeward --help` for the commands.
package main

import (
	"os"

	"github.com/edgeward/edgeward/agent"
)

func main() {
	os.Exit(agent.Main(os.Args[1:], os.Stdout, os.Stderr))
}
