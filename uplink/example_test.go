package uplink_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/edgeward/edgeward/uplink"
)

// openQueue stands for the agent's adapter of its durable buffer.
func openQueue() uplink.Source { return newMemSource() }

// ExampleClient_Run drains a queue to a TLS broker with failover until
// interrupted.
func ExampleClient_Run() {
	cfg := uplink.Config{
		Brokers:    []string{"ssl://mqtt-a.example.com:8883", "ssl://mqtt-b.example.com:8883"},
		Enterprise: "acme",
		Site:       "plant-1",
		AgentID:    "gw-17",
		Username:   "gw-17",
		Password:   os.Getenv("EDGEWARD_MQTT_PASSWORD"),
		TLS:        uplink.TLSConfig{CAFile: "/etc/edgeward/ca.pem"},
		Gzip:       true,
	}
	c, err := uplink.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := c.Run(ctx, openQueue()); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", c.Stats())
}

func ExampleConfig_Topic() {
	cfg := uplink.Config{Enterprise: "acme", Site: "plant-1", AgentID: "gw-17"}
	fmt.Println(cfg.Topic("threat"))
	fmt.Println(cfg.Topic("threat") + uplink.GzipTopicSuffix)
	fmt.Println(cfg.StatusTopic())
	// Output:
	// edgeward/v1/acme/plant-1/gw-17/threat
	// edgeward/v1/acme/plant-1/gw-17/threat/gz
	// edgeward/v1/acme/plant-1/gw-17/status
}
