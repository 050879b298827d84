// Package version reads the version of a module linked into the running binary, from its build
// information, so each shim names the upstream version it was built with.
package version

import "runtime/debug"

// Of returns the linked version of module path, or "unknown".
func Of(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range info.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}
