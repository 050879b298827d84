// Command kargo-acr puts Kargo's shipped ACR provider (github.com/akuity/kargo/pkg/credentials/acr,
// at the version go.mod pins) behind credsim's exec protocol, unmodified. It only translates:
//
//   - a credentials/get becomes the credentials.Request Kargo's controller builds for a
//     Warehouse's subscription: Project = the project, Type = image or helm, RepoURL =
//     "<registry>/<repository>" (for helm, lower-cased, as Kargo's pkg/urls normalises an
//     oci:// chart URL after stripping the scheme);
//   - the provider is found the way Kargo finds it: the first provider in
//     credentials.DefaultProviderRegistry whose predicate matches, which the acr package's init()
//     registers only when workload identity is configured (AZURE_CLIENT_ID, AZURE_TENANT_ID,
//     AZURE_FEDERATED_TOKEN_FILE); no matching provider, or nil credentials, is anonymous (null);
//   - an error becomes a refusal whose kind comes from the HTTP status it carries (execproto.Kind).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/akuity/kargo/pkg/component"
	"github.com/akuity/kargo/pkg/credentials"
	_ "github.com/akuity/kargo/pkg/credentials/acr"

	"credsim.dev/clients/internal/execproto"
	"credsim.dev/clients/internal/version"
)

func main() {
	get := func(ctx context.Context, r execproto.Request) (*execproto.Credential, error) {
		req := credentials.Request{Project: r.Project, Type: credentials.TypeImage, RepoURL: r.Registry + "/" + r.Repository}
		if r.Artifact == "helm" {
			req.Type = credentials.TypeHelm
			req.RepoURL = strings.ToLower(req.RepoURL)
		}
		reg, err := credentials.DefaultProviderRegistry.Get(ctx, req)
		var none component.RegistrationNotFoundError
		if errors.As(err, &none) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		creds, err := reg.Value.GetCredentials(ctx, req)
		if err != nil || creds == nil {
			return nil, err
		}
		return &execproto.Credential{Username: creds.Username, Password: creds.Password}, nil
	}
	if err := execproto.Serve("kargo-acr", version.Of("github.com/akuity/kargo"), get); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
