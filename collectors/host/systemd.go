package host

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// systemdUnitDirs is the system unit search path under the root, highest
// precedence first (systemd.unit(5)). A unit found in an earlier directory
// hides one of the same name in a later one.
var systemdUnitDirs = [][]string{
	{"etc", "systemd", "system"},
	{"run", "systemd", "system"},
	{"usr", "local", "lib", "systemd", "system"},
	{"usr", "lib", "systemd", "system"},
	{"lib", "systemd", "system"},
}

// systemdCgroupSlices are the places of system.slice under the root: the
// unified (v2) hierarchy, the hybrid layout's unified mount, and the v1
// name=systemd hierarchy.
var systemdCgroupSlices = [][]string{
	{"sys", "fs", "cgroup", "system.slice"},
	{"sys", "fs", "cgroup", "unified", "system.slice"},
	{"sys", "fs", "cgroup", "systemd", "system.slice"},
}

// unitFile is what the collector needs from a unit file.
type unitFile struct {
	Description string
	HasInstall  bool // an [Install] section: enable-able, so not "static"
}

// parseUnitFile reads the Description of the [Unit] section and whether an
// [Install] section exists. Unknown sections and keys are ignored.
func parseUnitFile(r io.Reader) (unitFile, error) {
	var (
		u       unitFile
		section string
		sc      = bufio.NewScanner(r)
	)
	sc.Buffer(make([]byte, 0, 4096), maxSmallFile)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		switch {
		case len(line) == 0 || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[' && line[len(line)-1] == ']':
			section = string(line[1 : len(line)-1])
			if section == "Install" {
				u.HasInstall = true
			}
			continue
		}
		if section != "Unit" {
			continue
		}
		if k, v, ok := bytes.Cut(line, []byte("=")); ok && string(bytes.TrimSpace(k)) == "Description" {
			u.Description = string(bytes.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		return unitFile{}, fmt.Errorf("scan unit file: %w", err)
	}
	return u, nil
}

// systemdUnit is one service unit found on the search path.
type systemdUnit struct {
	unitFile
	masked bool
}

// readSystemdServices lists the service units under root with their unit
// file state and, when a systemd cgroup tree is present, their run state.
// The error is non-nil only when no unit directory exists; a missing
// cgroup tree is reported through stateErr (states are then "unknown").
func readSystemdServices(root hostRoot) (svcs []Service, stateErr error, err error) {
	units, err := readSystemdUnits(root)
	if err != nil {
		return nil, nil, err
	}
	enabled := readSystemdEnabled(root)
	// Enabled template instances (getty@tty1.service) are units too.
	for name := range enabled {
		if _, ok := units[name]; ok {
			continue
		}
		if tmpl, ok := templateOf(name); ok {
			if u, ok := units[tmpl]; ok {
				units[name] = u
			}
		}
	}
	running, stateErr := readServiceCgroups(root)
	for name, u := range units {
		if strings.HasSuffix(name, "@.service") {
			continue // a template, not a unit
		}
		s := Service{Name: name, Description: u.Description, State: "unknown"}
		switch {
		case u.masked:
			s.StartMode = "masked"
		case enabled[name]:
			s.StartMode = "enabled"
		case !u.HasInstall:
			s.StartMode = "static"
		default:
			s.StartMode = "disabled"
		}
		if stateErr == nil {
			s.State = "stopped"
			if pid, ok := running[name]; ok {
				s.State, s.PID = "running", pid
			}
		}
		svcs = append(svcs, s)
	}
	for name, pid := range running {
		if _, ok := units[name]; !ok {
			svcs = append(svcs, Service{Name: name, State: "running", StartMode: "transient", PID: pid})
		}
	}
	sortServices(svcs)
	return svcs, stateErr, nil
}

// templateOf maps an instance name (getty@tty1.service) to its template
// (getty@.service).
func templateOf(name string) (string, bool) {
	at := strings.IndexByte(name, '@')
	if at < 0 || !strings.HasSuffix(name, ".service") {
		return "", false
	}
	return name[:at+1] + ".service", true
}

// readSystemdUnits walks the unit search path. Aliases (a symlink to a unit
// of another name) are skipped: the target is listed under its own name.
func readSystemdUnits(root hostRoot) (map[string]systemdUnit, error) {
	units := make(map[string]systemdUnit)
	found := false
	for _, d := range systemdUnitDirs {
		dir := root.path(d...)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		found = true
		for _, e := range ents {
			name := e.Name()
			if !strings.HasSuffix(name, ".service") || e.IsDir() {
				continue
			}
			if _, ok := units[name]; ok {
				continue
			}
			p := filepath.Join(dir, name)
			if e.Type()&fs.ModeSymlink != 0 {
				target, err := os.Readlink(p)
				if err != nil {
					continue
				}
				if target == "/dev/null" {
					units[name] = systemdUnit{masked: true}
					continue
				}
				if filepath.Base(target) != name {
					continue // alias
				}
				if filepath.IsAbs(target) {
					p = root.path(target)
				} else {
					p = filepath.Join(dir, target)
				}
			}
			b, err := readFile(p, maxSmallFile)
			if err != nil {
				continue // dangling link or unreadable: not a loadable unit
			}
			uf, err := parseUnitFile(bytes.NewReader(b))
			if err != nil {
				continue
			}
			units[name] = systemdUnit{unitFile: uf}
		}
	}
	if !found {
		return nil, fmt.Errorf("read systemd units: no unit directory under %q", string(root))
	}
	return units, nil
}

// readSystemdEnabled returns the services linked from the *.wants and
// *.requires directories of etc/systemd/system (what systemctl enable
// creates).
func readSystemdEnabled(root hostRoot) map[string]bool {
	enabled := make(map[string]bool)
	dir := root.path("etc", "systemd", "system")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return enabled
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".wants") && !strings.HasSuffix(n, ".requires") {
			continue
		}
		sub, err := os.ReadDir(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		for _, s := range sub {
			if strings.HasSuffix(s.Name(), ".service") {
				enabled[s.Name()] = true
			}
		}
	}
	return enabled
}

// readServiceCgroups maps each running service to one of its process ids:
// a service runs when its cgroup (system.slice/NAME.service, or one level
// down in a sub-slice such as system-getty.slice) or a direct child cgroup
// lists a process in cgroup.procs.
func readServiceCgroups(root hostRoot) (map[string]int, error) {
	for _, s := range systemdCgroupSlices {
		slice := root.path(s...)
		ents, err := os.ReadDir(slice)
		if err != nil {
			continue
		}
		running := make(map[string]int)
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			n := e.Name()
			switch {
			case strings.HasSuffix(n, ".service"):
				if pid, ok := cgroupPID(filepath.Join(slice, n), 1); ok {
					running[n] = pid
				}
			case strings.HasSuffix(n, ".slice"):
				sub, err := os.ReadDir(filepath.Join(slice, n))
				if err != nil {
					continue
				}
				for _, se := range sub {
					if se.IsDir() && strings.HasSuffix(se.Name(), ".service") {
						if pid, ok := cgroupPID(filepath.Join(slice, n, se.Name()), 1); ok {
							running[se.Name()] = pid
						}
					}
				}
			}
		}
		return running, nil
	}
	return nil, errNoCgroup
}

// cgroupPID returns the first process id listed in dir/cgroup.procs, or, up
// to depth levels down, in a child cgroup's.
func cgroupPID(dir string, depth int) (int, bool) {
	if b, err := readFile(filepath.Join(dir, "cgroup.procs"), maxSmallFile); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && pid > 0 {
			return pid, true
		}
	}
	if depth == 0 {
		return 0, false
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	for _, e := range ents {
		if e.IsDir() {
			if pid, ok := cgroupPID(filepath.Join(dir, e.Name()), depth-1); ok {
				return pid, true
			}
		}
	}
	return 0, false
}
