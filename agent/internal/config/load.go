package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Size limits for files read by Load.
const (
	// MaxFileSize bounds a configuration file.
	MaxFileSize = 1 << 20
	// MaxPasswordSize bounds a password file.
	MaxPasswordSize = 64 << 10
)

// Loader loads configurations with injectable access to the environment and
// the machine id, so that tests run in parallel without touching process
// state. The zero value uses the real environment and DefaultAgentID. A
// Loader holds no state and is safe for concurrent use.
type Loader struct {
	// LookupEnv reads an environment variable; nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// AgentID returns the id used when agent.id is empty; nil means
	// DefaultAgentID.
	AgentID func() string
	// Check validates the parts of a decoded, otherwise valid configuration
	// that another package owns (the baseline's site_policy and
	// self_declared maps). Its errors name a dotted key and are located in
	// the file like the others; nil means no extra check.
	Check func(Config) []*Error
}

// Load reads the file at path and returns the effective configuration, as
// Loader{}.Load does.
func Load(path string) (Config, error) { return Loader{}.Load(path) }

// Parse decodes data as a configuration file named name (used in error
// messages), as Loader{}.Parse does.
func Parse(name string, data []byte) (Config, error) { return Loader{}.Parse(name, data) }

// Load reads the file at path (at most MaxFileSize bytes) and parses it.
func (l Loader) Load(path string) (Config, error) {
	data, err := readBounded(path, MaxFileSize)
	if err != nil {
		return Config{}, &Error{File: path, Msg: "cannot read the config file: " + pathError(err).Error(), Err: ErrRead, Cause: err}
	}
	return l.Parse(path, data)
}

// Parse decodes data strictly over Default() (unknown keys, duplicate keys and
// wrong types are errors), fills in derived defaults (agent id, client id),
// resolves the broker password (EDGEWARD_MQTT_PASSWORD wins over
// uplink.password_file), validates, and returns the configuration or every
// problem as *Error values joined with errors.Join, sorted by line. Empty
// data gives the defaults.
func (l Loader) Parse(name string, data []byte) (Config, error) {
	cfg := Default()
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a BOM from Windows editors
	root, perr := parseYAML(data)
	if perr != nil {
		perr.File = name
		return Config{}, perr
	}
	d := newDecoder()
	if root != nil {
		d.decode("", root, reflect.ValueOf(&cfg).Elem())
	}
	if len(d.errs) == 0 {
		l.derive(&cfg)
		fromEnv, e := l.resolvePassword(&cfg)
		if e != nil {
			d.errs = append(d.errs, e)
		}
		for _, e := range cfg.validate() {
			if e.Key == "uplink.username" && fromEnv {
				e.Msg = fmt.Sprintf("must be set because the environment variable %s gives a broker password "+
					"(MQTT sends a password only with a username): set uplink.username, or unset %s", PasswordEnv, PasswordEnv)
			}
			d.errs = append(d.errs, e)
		}
	}
	if len(d.errs) == 0 && l.Check != nil {
		d.errs = append(d.errs, l.Check(cfg)...)
	}
	if len(d.errs) == 0 {
		return cfg, nil
	}
	return Config{}, located(name, d.pos, d.errs)
}

// derive fills the defaults that depend on the machine or on other fields.
func (l Loader) derive(c *Config) {
	if c.Agent.ID == "" {
		id := DefaultAgentID
		if l.AgentID != nil {
			id = l.AgentID
		}
		c.Agent.ID = id()
	}
	if c.Agent.Enterprise == "" {
		c.Agent.Enterprise = DefaultEnterprise
	}
	if c.Agent.Site == "" {
		c.Agent.Site = DefaultSite
	}
	if c.Uplink.ClientID == "" && c.Agent.ID != "" {
		c.Uplink.ClientID = ClientIDPrefix + c.Agent.ID
	}
}

// resolvePassword sets Uplink.Password from the environment or the file,
// and reports whether the environment gave it.
func (l Loader) resolvePassword(c *Config) (bool, *Error) {
	lookup := os.LookupEnv
	if l.LookupEnv != nil {
		lookup = l.LookupEnv
	}
	if v, ok := lookup(PasswordEnv); ok && v != "" {
		c.Uplink.Password = Secret(v)
		return true, nil
	}
	path := c.Uplink.PasswordFile
	if path == "" {
		return false, nil
	}
	b, err := readBounded(path, MaxPasswordSize)
	if err != nil {
		return false, &Error{Key: "uplink.password_file", Msg: fmt.Sprintf("cannot read the password file \"%s\": %v", path, pathError(err)), Err: ErrPasswordFile, Cause: err}
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return false, &Error{Key: "uplink.password_file", Msg: fmt.Sprintf("password file \"%s\" is empty", path), Err: ErrPasswordFile}
	}
	c.Uplink.Password = Secret(pw)
	return false, nil
}

// pathError drops the path that an *fs.PathError repeats (the message
// names the file already).
func pathError(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// readBounded reads at most limit bytes of a regular file.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, errors.New("is a directory")
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes; is it the right file?", limit)
	}
	return b, nil
}

// MaxErrors is the number of problems Load and Parse report one by one; the
// rest are counted in a last "and N more problems" error.
const MaxErrors = 20

// located sets File on every error, fills in the line of the key (or of its
// nearest ancestor present in the file) for errors that have none, and joins
// them sorted by position; errors without a line come last.
func located(name string, pos map[string]position, errs []*Error) error {
	for _, e := range errs {
		e.File = name
		if e.Line != 0 {
			continue
		}
		for k := e.Key; k != ""; k = parentKey(k) {
			if p, ok := pos[k]; ok {
				e.Line, e.Column = p.Line, p.Column
				break
			}
		}
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	out := make([]error, 0, min(len(errs), MaxErrors+1))
	for _, e := range errs[:min(len(errs), MaxErrors)] {
		out = append(out, e)
	}
	if more := len(errs) - MaxErrors; more > 0 {
		out = append(out, &Error{File: name, Msg: fmt.Sprintf("and %d more problems", more), Err: errs[MaxErrors].Err})
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// parentKey strips the last ".name" or "[i]" of a dotted key.
func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

// Redacted returns a copy of c in which every non-empty secret is replaced
// by the text "[redacted]", for display. The copy shares slices and maps with
// c.
func (c Config) Redacted() Config {
	if c.Uplink.Password != "" {
		c.Uplink.Password = Secret(Redacted)
	}
	return c
}

// WriteEffective writes c, with secrets redacted, as YAML that Parse accepts
// back (apart from the redacted password line): the output of
// `edgeward check-config`.
func WriteEffective(w io.Writer, c Config) error {
	var buf bytes.Buffer
	buf.WriteString("# edgeward effective configuration (secrets redacted)\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c.Redacted()); err != nil {
		return fmt.Errorf("encode effective config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode effective config: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write effective config: %w", err)
	}
	return nil
}
