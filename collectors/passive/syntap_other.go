//go:build !linux

package passive

import "context"

// synTap is Linux's: elsewhere connections are looked up when the capture
// hands over their first segment.
type synTap struct{}

// openSynTap returns no tap outside Linux.
func openSynTap(string, LiveOptions) (*synTap, error) { return nil, nil }

func (*synTap) run(context.Context, *attributor) {}
