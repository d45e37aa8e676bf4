// Command scanmain runs one baseline scan and prints it; it stands in for
// `edgeward scan` when measuring wall time and peak RSS of the collector
// alone: go build -o /tmp/scanmain ./collectors/baseline/testdata/scanmain
// && /usr/bin/time -v /tmp/scanmain -format json / > /dev/null
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/edgeward/edgeward/collectors/baseline"
)

func main() {
	format := flag.String("format", "table", "table|json|html")
	flag.Parse()
	cfg := baseline.DefaultConfig()
	if flag.NArg() > 0 {
		cfg.Root = flag.Arg(0)
	}
	c, err := baseline.New(cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r, err := c.Scan(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	case "html":
		err = r.WriteHTML(os.Stdout)
	default:
		err = r.WriteTable(os.Stdout, false)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
