package baseline

// defaultTarget is the catalog half this build scans: Windows.
func defaultTarget() string { return "windows" }
