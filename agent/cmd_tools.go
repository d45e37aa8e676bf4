package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/collectors/baseline"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/uplink"
)

func cmdScan(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "scan", "[-c FILE] [--format table|json|html] [-o FILE] [--root DIR]")
	format := fs.String("format", "table", "output format: table, json or html (default with -o FILE.html: html, FILE.json: json)")
	out := fs.String("o", "", "write the report to this file instead of standard output")
	root := fs.String("root", "/", "host root to inspect (a mounted image or fixture tree)")
	color := fs.String("color", "auto", "colour the table: auto, always or never")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := oneOf("format", *format, "table", "json", "html"); err != nil {
		return err
	}
	if !flagSet(fs.FlagSet, "format") {
		*format = formatOf(*out, *format)
	}
	if err := oneOf("color", *color, "auto", "always", "never"); err != nil {
		return err
	}
	if st, err := os.Stat(*root); err != nil || !st.IsDir() {
		return fmt.Errorf("--root %s is not a directory (give / or the mount point of the host image to check)", *root)
	}
	c, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	s := newSettings(c, "", Version)
	s.baseline.Root = *root
	col, err := baseline.New(withLocalProbes(s.baseline), newLogger(env.stderr, c.Log))
	if err != nil {
		return fmt.Errorf("configure baseline: %w", err)
	}
	rep, err := col.Scan(ctx)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	w := env.stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("create report: %w", err)
		}
		defer f.Close()
		w = f
	}
	switch *format {
	case "json":
		err = writeJSON(w, rep)
	case "html":
		err = rep.WriteHTML(w)
	default:
		err = rep.WriteTable(w, *color == "always" || (*color == "auto" && *out == "" && isTerminal(env.stdout)), tableWidth(env.stdout, *out == ""))
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if f, ok := w.(*os.File); ok && *out != "" {
		return f.Close()
	}
	return nil
}

// formatOf returns the report format a file name implies (.html, .htm:
// html; .json: json), or def.
func formatOf(name, def string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".html", ".htm":
		return "html"
	case ".json":
		return "json"
	}
	return def
}

// flagSet reports whether flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func cmdReplay(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "replay", "FILE... [--format table|json] [--strict] [-c FILE]")
	format := fs.String("format", "table", "output format: table or json")
	strict := fs.Bool("strict", false, "fail (exit 1, no output) when a capture is truncated or has an invalid block; by default what precedes it is decoded and the rest skipped, with a warning")
	files, err := fs.parseArgs(args)
	if err != nil {
		return err
	}
	if err := oneOf("format", *format, "table", "json"); err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%w: name at least one pcap or pcapng file", errUsage)
	}
	c, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	setMemorySettings(c)
	s := newSettings(c, "", Version)
	log := newLogger(env.stderr, c.Log)
	sum, err := passive.Replay(ctx, files, s.passive, log)
	if err != nil {
		return err
	}
	var bad []error
	for _, f := range sum.Files {
		if err := f.Err(); err != nil {
			bad = append(bad, err)
			if !*strict {
				fmt.Fprintf(env.stderr, "edgeward replay: warning: %v; %s not read\n", err, skipped(f.SkippedBytes))
			}
		}
	}
	if *strict && len(bad) > 0 {
		return fmt.Errorf("--strict: %w", errors.Join(bad...))
	}
	if *format == "json" {
		return writeJSON(env.stdout, sum)
	}
	return sum.WriteTable(env.stdout)
}

// skipped describes the bytes of a capture left unread.
func skipped(n int64) string {
	if n < 0 {
		return "the rest of the file"
	}
	return fmt.Sprintf("the remaining %d bytes", n)
}

const bufferArgs = "stats|dump [-c FILE] [--file PATH] [--format text|json] [--limit N]"

func cmdBuffer(_ context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintf(env.stdout, "usage: edgeward buffer %s\n"+
			"  stats  counters of the buffer: queued, accepted, delivered, dropped by reason\n"+
			"  dump   the queued records, oldest first, one JSON record per line\n"+
			"Run 'edgeward buffer stats --help' or 'edgeward buffer dump --help' for the flags.\n", bufferArgs)
		return nil
	}
	if len(args) == 0 || (args[0] != "stats" && args[0] != "dump") {
		return fmt.Errorf("%w: want 'stats' or 'dump'", errUsage)
	}
	sub := args[0]
	var fs *cmdFlags
	var cfgPath, format *string
	limit := new(int)
	if sub == "stats" {
		fs, cfgPath = newFlags(env, "buffer stats", "[-c FILE] [--file PATH] [--format text|json]")
		format = fs.String("format", "text", "output format: text or json")
	} else {
		fs, cfgPath = newFlags(env, "buffer dump", "[-c FILE] [--file PATH] [--limit N]")
		format = new(string)
		*format = "text"
		limit = fs.Int("limit", 0, "dump at most N records (0 = all)")
	}
	file := fs.String("file", "", "buffer file (default: buffer.path from the config)")
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	if err := oneOf("format", *format, "text", "json"); err != nil {
		return err
	}
	if err := nonNegative("limit", *limit); err != nil {
		return err
	}
	path := *file
	if path == "" {
		c, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		path = c.Buffer.Path
	}
	if sub == "dump" {
		return buffer.Dump(path, env.stdout, *limit)
	}
	snap, err := readStats(path)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(env.stdout, snap)
	}
	q := snap.queueBody
	if !snap.SnapshotTime.IsZero() {
		fmt.Fprintf(env.stdout, "agent running: snapshot taken %s\n", snap.SnapshotTime.Format(time.RFC3339))
	}
	fmt.Fprintf(env.stdout, "buffer     %s\nqueued     %d\naccepted   %d\ndelivered  %d\ncoalesced  %d\nbytes      %d (file %d)\noldest     %.0fs\n",
		path, q.Queued, q.Accepted, q.Delivered, q.Coalesced, q.Bytes, q.FileBytes, q.OldestAge)
	for _, k := range sortedKeys(q.Dropped) {
		fmt.Fprintf(env.stdout, "dropped    %-12s %d\n", k, q.Dropped[k])
	}
	return nil
}

func cmdListen(ctx context.Context, env *cliEnv, args []string) error {
	fs, cfgPath := newFlags(env, "listen", "[-c FILE] [--format text|json] [--count N] [--topic FILTER]")
	format := fs.String("format", "text", "text: one line per record; json: one record per line as received")
	count := fs.Int("count", 0, "exit after N records (0 = run until interrupted)")
	topic := fs.String("topic", "", "topic filter (default {prefix}/# for all agents)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := oneOf("format", *format, "text", "json"); err != nil {
		return err
	}
	if err := nonNegative("count", *count); err != nil {
		return err
	}
	c, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if len(c.Uplink.Brokers) == 0 {
		return fmt.Errorf("no broker configured: set uplink.brokers in the config")
	}
	s := newSettings(c, "", Version)
	s.uplink.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	filter := *topic
	if filter == "" {
		filter = s.uplink.TopicPrefix + "/#"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := 0
	err = uplink.Subscribe(ctx, s.uplink, filter, func(topic string, payload []byte) {
		for _, rec := range splitBatch(payload) {
			if *count > 0 && seen >= *count {
				return
			}
			seen++
			printRecord(env.stdout, *format, topic, rec)
			if *count > 0 && seen >= *count {
				cancel()
			}
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w (is the broker running? uplink.brokers names %s)", err, strings.Join(c.Uplink.Brokers, ", "))
	}
	return nil
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// splitBatch returns the records of one payload: a JSON array of records (a
// batch), a gzip-compressed batch, or any other payload (status "online")
// as one raw item.
func splitBatch(payload []byte) []json.RawMessage {
	if len(payload) > 2 && payload[0] == 0x1f && payload[1] == 0x8b {
		if zr, err := gzip.NewReader(bytes.NewReader(payload)); err == nil {
			if b, err := io.ReadAll(io.LimitReader(zr, 256<<20)); err == nil {
				payload = b
			}
		}
	}
	var batch []json.RawMessage
	if err := json.Unmarshal(payload, &batch); err == nil {
		return batch
	}
	return []json.RawMessage{payload}
}

func printRecord(w io.Writer, format, topic string, raw json.RawMessage) {
	if format == "json" {
		fmt.Fprintf(w, "%s\n", bytes.TrimSpace(raw))
		return
	}
	var r struct {
		ID, Class, Kind, Key, Severity string
		Time                           string
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Kind == "" {
		fmt.Fprintf(w, "%s  %s\n", topic, strings.TrimSpace(string(raw)))
		return
	}
	fmt.Fprintf(w, "%s  %-8s %-24s %-9s key=%s id=%s\n", r.Time, r.Class, r.Kind, r.Severity, r.Key, r.ID)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
