// Command docker-credential-acr-env-anchored is the fork of
// github.com/chrismellard/docker-credential-acr-env that GO-2026-6225's references point to,
// rebuilt here: osscontainertools/docker-credential-acr v0.8.0 differs from the affected module
// only by commit 5ce8219, "Anchor the ACR host regex", and the Go module proxy this project
// installs from does not serve that fork (it answers 403 for every version). So this binary is
// the affected module's own code, linked unmodified, with one change made at start-up: the
// package's host pattern (credhelper.acrRE, reached by go:linkname) is replaced by the anchored
// one, `^.*\.azurecr\.io$|^.*\.azurecr\.cn$|^.*\.azurecr\.de$|^.*\.azurecr\.us$`. Everything
// else (the token flow, the exchange, the helper protocol) is the affected module's.
package main

import (
	"regexp"
	_ "unsafe" // go:linkname

	"github.com/chrismellard/docker-credential-acr-env/cmd"
	_ "github.com/chrismellard/docker-credential-acr-env/pkg/credhelper"
)

//go:linkname acrRE github.com/chrismellard/docker-credential-acr-env/pkg/credhelper.acrRE
var acrRE *regexp.Regexp

func main() {
	acrRE = regexp.MustCompile(`^.*\.azurecr\.io$|^.*\.azurecr\.cn$|^.*\.azurecr\.de$|^.*\.azurecr\.us$`)
	cmd.Execute()
}
