package agent

import (
	"context"
	"time"

	"github.com/edgeward/edgeward/collectors/baseline"
	"github.com/edgeward/edgeward/collectors/probe"
)

// localProbeTimeout bounds the baseline's GetEndpoints call to a local OPC UA
// server.
const localProbeTimeout = 5 * time.Second

// withLocalProbes wires the baseline's one network call: GetEndpoints to an
// OPC UA server listening on this host (127.0.0.1), never to a remote
// device, through the bounded decoder of collectors/probe.
func withLocalProbes(c baseline.Config) baseline.Config {
	c.OPCUA = func(url string) ([]baseline.OPCUAEndpoint, error) {
		ctx, cancel := context.WithTimeout(context.Background(), localProbeTimeout)
		defer cancel()
		eps, err := probe.OPCUAEndpoints(ctx, url)
		if err != nil {
			return nil, err
		}
		out := make([]baseline.OPCUAEndpoint, len(eps))
		for i, ep := range eps {
			out[i] = baseline.OPCUAEndpoint{
				URL:            ep.URL,
				SecurityPolicy: ep.SecurityPolicyURI,
				SecurityMode:   ep.SecurityMode,
				TokenTypes:     ep.UserTokenTypes,
			}
		}
		return out, nil
	}
	return c
}
