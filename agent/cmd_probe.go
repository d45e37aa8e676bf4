package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/edgeward/edgeward/collectors/probe"
)

const probeArgs = "[--format table|json] [--timeout D] TARGET..."

// probeReport is the outcome of probing one target, as `probe` prints it.
type probeReport struct {
	Target    string              `json:"target"`
	Modbus    *probe.ModbusResult `json:"modbus,omitempty"`
	Endpoints []probe.Endpoint    `json:"endpoints,omitempty"`
	BuildInfo *probe.BuildInfo    `json:"build_info,omitempty"`
	// BuildInfoError says why BuildInfo could not be read from a server
	// that offers an anonymous None endpoint.
	BuildInfoError string          `json:"build_info_error,omitempty"`
	Findings       []probe.Finding `json:"findings,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// cmdProbe actively identifies the Modbus and OPC UA devices named on the
// command line, one at a time, each within --timeout. It prints every
// target's outcome and fails when any target could not be probed.
func cmdProbe(ctx context.Context, env *cliEnv, args []string) error {
	fs := newCmdFlags(env, "probe", probeArgs)
	fs.help = "  TARGET: modbus://host[:port][/unit]  (default port 502, unit 1; unit 0 is refused)\n" +
		"          opc.tcp://host[:port][/path] (default port 4840)"
	format := fs.String("format", "table", "output format: table or json")
	timeout := fs.Duration("timeout", probe.DefaultTimeout, "time limit for each target")
	targets, err := fs.parseArgs(args)
	if err != nil {
		return err
	}
	if err := oneOf("format", *format, "table", "json"); err != nil {
		return err
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive, got %s", errUsage, *timeout)
	}
	if len(targets) == 0 {
		return fmt.Errorf("%w: name at least one target", errUsage)
	}
	// Check every target before sending anything, so that a typo in the
	// last one does not leave the first ones probed.
	for _, t := range targets {
		if err := probe.ValidateTarget(t); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
	}

	reports := make([]probeReport, 0, len(targets))
	failed := 0
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := probeTarget(ctx, t, *timeout)
		if r.Error != "" {
			failed++
		}
		reports = append(reports, r)
	}
	if *format == "json" {
		err = writeJSON(env.stdout, reports)
	} else {
		err = writeProbeTable(env.stdout, reports)
	}
	if err != nil {
		return fmt.Errorf("write probe results: %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("probe targets: %d of %d failed", failed, len(targets))
	}
	return nil
}

// probeTarget probes one validated target within timeout.
func probeTarget(ctx context.Context, target string, timeout time.Duration) probeReport {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := probeReport{Target: target}
	var err error
	if strings.HasPrefix(target, "modbus://") {
		r.Modbus, err = probe.ModbusIdentify(ctx, target)
		r.Findings = probe.ModbusFindings(target, r.Modbus)
	} else {
		var res *probe.OPCUAResult
		if res, err = probe.OPCUAIdentify(ctx, target); err == nil {
			r.Endpoints, r.BuildInfo, r.BuildInfoError = res.Endpoints, res.BuildInfo, res.BuildInfoError
		}
		r.Findings = probe.OPCUAFindings(target, r.Endpoints, time.Now())
	}
	if err != nil {
		r.Error = err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			r.Error = fmt.Sprintf("no answer within %s: %v", timeout, err)
		}
	}
	return r
}

// writeProbeTable prints the reports for a person. Device strings are
// untrusted, so control characters are replaced before they reach a
// terminal.
func writeProbeTable(w io.Writer, reports []probeReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "%s\n", printable(r.Target))
		if r.Error != "" {
			fmt.Fprintf(tw, "  error\t%s\n", printable(r.Error))
		}
		if m := r.Modbus; m != nil {
			if m.Exception != nil {
				fmt.Fprintf(tw, "  exception\t%d (%s)\n", m.Exception.Code, m.Exception.Name)
			}
			for _, f := range []struct{ name, v string }{
				{"vendor", m.VendorName}, {"product code", m.ProductCode}, {"revision", m.Revision},
				{"vendor url", m.VendorURL}, {"product name", m.ProductName}, {"model name", m.ModelName},
				{"application", m.UserApplicationName},
			} {
				if f.v != "" {
					fmt.Fprintf(tw, "  %s\t%s\n", f.name, printable(f.v))
				}
			}
			for id := 7; id < 256; id++ {
				if v, ok := m.Objects[byte(id)]; ok {
					fmt.Fprintf(tw, "  object 0x%02x\t%s\n", id, printable(v))
				}
			}
		}
		if b := r.BuildInfo; b != nil {
			for _, f := range []struct{ name, v string }{
				{"manufacturer", b.ManufacturerName}, {"product", b.ProductName}, {"product uri", b.ProductURI},
				{"software version", b.SoftwareVersion}, {"build number", b.BuildNumber},
			} {
				if f.v != "" {
					fmt.Fprintf(tw, "  %s\t%s\n", f.name, printable(f.v))
				}
			}
		}
		if r.BuildInfoError != "" {
			fmt.Fprintf(tw, "  build info\tnot read: %s\n", printable(r.BuildInfoError))
		}
		if len(r.Endpoints) > 0 {
			fmt.Fprintf(tw, "  ENDPOINT\tPOLICY\tMODE\tTOKENS (POLICY)\tCERTIFICATE\n")
		}
		for _, e := range r.Endpoints {
			cert := "-"
			if c := e.Certificate; c != nil && c.Error != "" {
				cert = "unparsable: " + c.Error
			} else if c != nil {
				cert = fmt.Sprintf("%s, expires %s", c.Subject, c.NotAfter.Format(time.DateOnly))
			}
			var tokens []string
			for _, t := range e.UserTokens {
				tokens = append(tokens, t.Type+"("+shortPolicy(t.EffectivePolicy(e))+")")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", printable(e.URL), printable(shortPolicy(e.SecurityPolicyURI)),
				e.SecurityMode, printable(strings.Join(tokens, ",")), printable(cert))
		}
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "  [%s]\t%s\t%s\n", f.Severity, f.Kind, printable(f.Detail))
		}
	}
	return tw.Flush()
}

// shortPolicy trims the common prefix of an OPC UA security policy URI.
func shortPolicy(uri string) string {
	return strings.TrimPrefix(uri, "http://opcfoundation.org/UA/SecurityPolicy#")
}

// printable replaces control and other non-printable characters of an
// untrusted string (and tabs, which would break the table) with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}
