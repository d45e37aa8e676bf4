package agent

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeward/edgeward/agent/internal/config"
	"github.com/edgeward/edgeward/collectors/advisory"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/uplink"
)

// preflight checks what `run` needs from the machine before it starts:
// the buffer directory is writable, the TLS material of a TLS broker reads
// and parses and the client certificate matches its key, the capture files
// open as pcap or pcapng, the capture interfaces exist, and the collectors
// and the uplink accept their settings. It opens no socket and changes
// nothing. `run` and `check-config` both call it (through loadRunConfig),
// so that check-config refuses exactly what run would refuse at start.
// Each problem names the config key, so that it is located in the file.
func preflight(c config.Config) []*config.Error {
	var errs []*config.Error
	add := func(key, format string, args ...any) {
		errs = append(errs, &config.Error{Key: key, Msg: fmt.Sprintf(format, args...), Err: config.ErrInvalid})
	}
	if err := checkWritableFile(c.Buffer.Path); err != nil {
		add("buffer.path", "%v", err)
	}
	if usesTLS(c.Uplink.Brokers) {
		t := c.Uplink.TLS
		if t.CAFile != "" {
			if err := checkCAFile(t.CAFile); err != nil {
				add("uplink.tls.ca_file", "%v", err)
			}
		}
		if t.CertFile != "" && t.KeyFile != "" {
			certErr, keyErr := checkPEMFile(t.CertFile, "CERTIFICATE"), checkPEMFile(t.KeyFile, "PRIVATE KEY")
			switch {
			case certErr != nil || keyErr != nil:
				if certErr != nil {
					add("uplink.tls.cert_file", "%v", certErr)
				}
				if keyErr != nil {
					add("uplink.tls.key_file", "%v", keyErr)
				}
			default:
				if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
					add("uplink.tls.key_file", "does not match uplink.tls.cert_file %s: %v (give the key of this certificate)", t.CertFile, err)
				}
			}
		}
	}
	if p := c.Collectors.Passive; p.Enabled {
		for i, f := range p.Files {
			if err := checkCapture(f); err != nil {
				add(fmt.Sprintf("collectors.passive.files[%d]", i), "%v", err)
			}
		}
		for i, name := range p.Interfaces {
			if err := checkInterface(name); err != nil {
				add(fmt.Sprintf("collectors.passive.interfaces[%d]", i), "%v", err)
			}
		}
	}
	if f := c.Advisories.File; f != "" {
		if _, err := advisory.Load(f); err != nil {
			add("advisories.file", "%v", err)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	// What the detailed checks above do not cover, run's own constructors
	// do: they validate without starting anything.
	s := newSettings(c, "", Version)
	discard := slog.New(slog.DiscardHandler)
	if _, err := buildCollectors(c, s, discard); err != nil {
		add("collectors", "%v", err)
	}
	if len(s.uplink.Brokers) > 0 {
		s.uplink.Logger = discard
		if _, err := uplink.New(s.uplink); err != nil {
			add("uplink", "%v", err)
		}
	}
	return errs
}

func usesTLS(brokers []string) bool {
	for _, b := range brokers {
		if config.IsTLSBroker(b) {
			return true
		}
	}
	return false
}

// checkWritableFile checks that the agent can create or open path for
// writing: an existing path must be a regular file it can open read-write,
// else the nearest existing directory above it must take a new file.
func checkWritableFile(path string) error {
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("cannot open %s for writing: %v (run as the user that owns it, or fix its permissions)", path, pathErr(err))
		}
		return f.Close()
	}
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no existing directory above %s", path)
		}
		dir = parent
	}
	f, err := os.CreateTemp(dir, ".edgeward-check-*")
	if err != nil {
		return fmt.Errorf("directory %s is not writable: %v (create it for the agent's user, or choose another buffer.path)", dir, pathErr(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// checkCAFile checks that path holds at least one PEM certificate.
func checkCAFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, pathErr(err))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("%s holds no PEM certificate (want the CA that signed the broker's certificate)", path)
	}
	return nil
}

// checkPEMFile checks that path is readable and holds a PEM block whose
// type ends in kind ("CERTIFICATE", "PRIVATE KEY").
func checkPEMFile(path, kind string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, pathErr(err))
	}
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return fmt.Errorf("%s holds no PEM %s", path, strings.ToLower(kind))
		}
		if strings.HasSuffix(blk.Type, kind) {
			return nil
		}
	}
}

// checkCapture checks that a capture file opens as pcap or pcapng.
func checkCapture(path string) error {
	src, err := passive.OpenFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("capture file %s does not exist", path)
		}
		return err
	}
	return src.Close()
}

// pathErr drops the path that an *fs.PathError repeats.
func pathErr(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}
