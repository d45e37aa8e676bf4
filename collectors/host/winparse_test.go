package host

import (
	"slices"
	"testing"
)

func TestQFEDate(t *testing.T) {
	for in, want := range map[string]string{
		"11/20/2026":       "2026-11-20",
		"3/4/2025":         "2025-03-04",
		" 12/31/2024 ":     "2024-12-31",
		"22/2/2022":        "2022-02-22", // day first (Wine)
		"01d1e27a3c6f8000": "2016-07-20", // FILETIME in hex (Windows Vista era)
		"":                 "",
		"20.11.2026":       "",
		"garbage":          "",
	} {
		got, ok := qfeDate(in)
		if got != want || ok != (want != "") {
			t.Errorf("qfeDate(%q) = %q, %t; want %q", in, got, ok, want)
		}
	}
}

func TestUserHives(t *testing.T) {
	profiles := []string{"S-1-5-18", "S-1-5-19", "S-1-5-21-1-2-3-1001", "S-1-5-21-1-2-3-1002", "S-1-5-21-9-9-9-500"}
	loaded := []string{".DEFAULT", "S-1-5-18", "s-1-5-21-1-2-3-1001", "S-1-5-21-1-2-3-1001_Classes"}
	readable, unloaded := userHives(profiles, loaded)
	if !slices.Equal(readable, []string{"S-1-5-21-1-2-3-1001"}) {
		t.Errorf("readable = %v", readable)
	}
	if !slices.Equal(unloaded, []string{"S-1-5-21-1-2-3-1002", "S-1-5-21-9-9-9-500"}) {
		t.Errorf("unloaded = %v", unloaded)
	}
}
