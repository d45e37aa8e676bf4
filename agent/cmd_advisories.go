package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeward/edgeward/collectors/advisory"
)

// cmdAdvisories manages the known-vulnerability advisory list offline:
// `update FILE` validates FILE and installs it where `run` reads it
// (advisories.file when set, else advisories.json next to the buffer);
// `show` prints the list in use.
func cmdAdvisories(_ context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintf(env.stdout, "usage: edgeward advisories update FILE|show [-c FILE]\n"+
			"  update FILE  validate FILE and install it as the advisory list `run` matches against\n"+
			"  show         print the advisory list in use\n")
		return nil
	}
	if len(args) == 0 || (args[0] != "update" && args[0] != "show") {
		return fmt.Errorf("%w: want 'update FILE' or 'show'", errUsage)
	}
	sub := args[0]
	fs, cfgPath := newFlags(env, "advisories "+sub, map[string]string{"update": "[-c FILE] FILE", "show": "[-c FILE]"}[sub])
	pos, err := fs.parseArgs(args[1:])
	if err != nil {
		return err
	}
	if sub == "show" {
		if err := fs.noArgs(pos); err != nil {
			return err
		}
	}
	c, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if sub == "update" && len(pos) != 1 {
		return fmt.Errorf("%w: advisories update takes one file, got %d arguments", errUsage, len(pos))
	}
	if sub == "show" {
		path := advisoryPath(c.Advisories.File, c.Buffer.Path)
		l, err := loadAdvisories(c.Advisories.File, c.Buffer.Path, newLogger(env.stderr, c.Log))
		if err != nil {
			return err
		}
		if path == "" {
			path = "(built in)"
		}
		fmt.Fprintf(env.stdout, "%s: %s\n", path, l.Summary())
		for _, a := range l.Advisories {
			fmt.Fprintf(env.stdout, "%-18s cvss %4.1f  %s\n", a.ID, a.CVSS.Score, printable(a.Title))
		}
		return nil
	}
	l, err := advisory.Load(pos[0])
	if err != nil {
		return err // names the file, the entry and the field
	}
	dst := c.Advisories.File
	if dst == "" {
		dst = filepath.Join(filepath.Dir(c.Buffer.Path), installedAdvisories)
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("read %s: %w", pos[0], err)
	}
	if err := writeFileAtomic(dst, data); err != nil {
		return fmt.Errorf("install advisory list: %w", err)
	}
	fmt.Fprintf(env.stdout, "installed %s to %s; a running agent uses it from its next start\n", l.Summary(), dst)
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed, so a crash leaves the old or the new file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".advisories-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
