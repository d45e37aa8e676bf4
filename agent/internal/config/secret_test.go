package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/edgeward/edgeward/agent/internal/config"
)

const plainPassword = "s3cr3t-Hunter2-plain"

// TestSecretNeverPrinted loads a config whose password comes from the
// environment and checks that the literal password appears in no output
// path: fmt verbs, slog text and JSON, encoding/json, YAML, and the
// check-config printer.
func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	l := config.Loader{
		AgentID:   func() string { return "a1" },
		LookupEnv: func(k string) (string, bool) { return plainPassword, k == config.PasswordEnv },
	}
	c, err := l.Parse("s.yaml", []byte("uplink:\n  username: gw\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Uplink.Password.Reveal(); got != plainPassword {
		t.Fatalf("Reveal() = %q, want the resolved password", got)
	}
	var outputs []string
	for _, v := range []any{c, &c, c.Uplink, c.Uplink.Password, &c.Uplink.Password} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%T"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(v))
	}
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("loaded", "config", c, "uplink", c.Uplink, "password", c.Uplink.Password)
		log.Info("group", slog.Group("g", slog.Any("pw", c.Uplink.Password)))
		outputs = append(outputs, buf.String())
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var eff bytes.Buffer
	if err := config.WriteEffective(&eff, c); err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js), string(ys), eff.String(), fmt.Sprint(c.Redacted()))
	for i, out := range outputs {
		if strings.Contains(out, plainPassword) {
			t.Errorf("output %d leaks the password: %s", i, out)
		}
	}
	if !strings.Contains(eff.String(), "password: '[redacted]'") && !strings.Contains(eff.String(), "password: \"[redacted]\"") {
		t.Errorf("check-config output does not show the redacted password:\n%s", eff.String())
	}
	if !strings.Contains(string(js), `"password":"[redacted]"`) {
		t.Errorf("JSON does not show the redacted password: %s", js)
	}
	if got := fmt.Sprint(config.Secret("")); got != "" {
		t.Errorf("empty secret prints %q, want \"\"", got)
	}
	// Redacted does not modify its receiver.
	if c.Uplink.Password.Reveal() != plainPassword {
		t.Error("Redacted modified the original config")
	}
}

// TestBrokerCredentialsNotEchoed checks that a password written inside a
// broker URL is refused without repeating it.
func TestBrokerCredentialsNotEchoed(t *testing.T) {
	t.Parallel()
	_, err := testLoader().Parse("b.yaml", []byte("uplink:\n  brokers: [\"tcp://gw:"+plainPassword+"@broker:1883\"]\n"))
	if err == nil {
		t.Fatal("credentials in a broker URL were accepted")
	}
	want := `b.yaml:2: uplink.brokers[0]: must not contain credentials; use uplink.username and uplink.password_file, got "tcp://`
	if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), plainPassword) {
		t.Errorf("error = %q, want prefix %q and no password", err, want)
	}
}

// TestPasswordResolution covers password_file and EDGEWARD_MQTT_PASSWORD.
func TestPasswordResolution(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withNL := write("nl", "from-file\n")
	withCRLF := write("crlf", "from-file\r\n")
	empty := write("empty", "\n")
	big := write("big", strings.Repeat("x", config.MaxPasswordSize+1))
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name    string
		file    string
		env     *string
		want    string
		wantErr string // exact prefix
		is      []error
	}{
		{name: "file with newline", file: withNL, want: "from-file"},
		{name: "file with crlf", file: withCRLF, want: "from-file"},
		{name: "env wins over file", file: withNL, env: ptr("from-env"), want: "from-env"},
		{name: "env without file", env: ptr("from-env"), want: "from-env"},
		{name: "empty env falls back to file", file: withNL, env: ptr(""), want: "from-file"},
		{name: "env set, missing file not read", file: missing, env: ptr("from-env"), want: "from-env"},
		{name: "neither", want: ""},
		{
			name: "missing file", file: missing,
			wantErr: "p.yaml:4: uplink.password_file: cannot read the password file \"" + missing + "\": ", // the OS says why (no such file; File not found.)
			is:      []error{config.ErrPasswordFile, fs.ErrNotExist},
		},
		{
			name: "directory", file: dir,
			wantErr: "p.yaml:4: uplink.password_file: cannot read the password file \"" + dir + "\": is a directory",
			is:      []error{config.ErrPasswordFile},
		},
		{
			name: "empty file", file: empty,
			wantErr: "p.yaml:4: uplink.password_file: password file \"" + empty + "\" is empty",
			is:      []error{config.ErrPasswordFile},
		},
		{
			name: "oversized file", file: big,
			wantErr: "p.yaml:4: uplink.password_file: cannot read the password file \"" + big + "\": larger than 65536 bytes",
			is:      []error{config.ErrPasswordFile},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := config.Loader{
				AgentID: func() string { return "a1" },
				LookupEnv: func(k string) (string, bool) {
					if k != config.PasswordEnv || tc.env == nil {
						return "", false
					}
					return *tc.env, true
				},
			}
			in := "agent: {id: a1}\nuplink:\n  username: gw\n"
			if tc.file != "" {
				in += "  password_file: " + tc.file + "\n"
			}
			c, err := l.Parse("p.yaml", []byte(in))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error = %v\nwant prefix %q", err, tc.wantErr)
				}
				for _, target := range tc.is {
					if !errors.Is(err, target) {
						t.Errorf("errors.Is(err, %v) = false", target)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, c.Uplink.Password.Reveal()); diff != "" {
				t.Errorf("password (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestPasswordFromProcessEnvironment goes through the zero Loader and the real
// process environment (so it cannot run in parallel).
func TestPasswordFromProcessEnvironment(t *testing.T) {
	t.Setenv(config.PasswordEnv, "from-process-env")
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, []byte("agent: {id: a1}\nuplink: {username: gw}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Uplink.Password.Reveal(); got != "from-process-env" {
		t.Errorf("password = %q, want the value of %s", got, config.PasswordEnv)
	}
}

// TestPasswordNeedsUsername checks the MQTT rule that a password is sent only
// with a username.
func TestPasswordNeedsUsername(t *testing.T) {
	t.Parallel()
	l := config.Loader{
		AgentID:   func() string { return "a1" },
		LookupEnv: func(k string) (string, bool) { return "pw", k == config.PasswordEnv },
	}
	_, err := l.Parse("u.yaml", []byte("log: {level: info}\nuplink:\n  brokers: [tcp://b:1883]\n"))
	want := "u.yaml:2: uplink.username: must be set because the environment variable EDGEWARD_MQTT_PASSWORD gives a broker password"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Parse error = %v, want prefix %q", err, want)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.LookupEnv = func(string) (string, bool) { return "", false }
	_, err = l.Parse("u.yaml", []byte("uplink:\n  password_file: "+pw+"\n"))
	want = "u.yaml:1: uplink.username: must be set when a password is configured"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Parse error = %v, want prefix %q", err, want)
	}
}
