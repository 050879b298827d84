// Command flux-azure puts Flux's Azure provider for object-level workload identity
// (github.com/fluxcd/pkg/auth/azure, at the version go.mod pins) behind credsim's exec protocol,
// unmodified. It only translates, the way a Flux controller calls the package for an
// OCIRepository:
//
//   - the feature gate ObjectLevelWorkloadIdentity is on (auth.EnableObjectLevelWorkloadIdentity,
//     what the controllers' --feature-gates=ObjectLevelWorkloadIdentity=true does);
//   - a credentials/get is an object in the project's namespace whose spec.serviceAccountName is
//     --service-account (empty: the object names none, so Flux uses the controller's own identity,
//     or, with --default-service-account, the lockdown default in the object's namespace);
//   - the artifact repository is "<registry>/<repository>", as an OCIRepository URL without its
//     oci:// scheme;
//   - credentials come from auth.GetArtifactRegistryCredentials with the controller's client
//     (KUBECONFIG) and a token cache as the controllers keep one (cache.NewTokenCache);
//   - a repository the provider's own ParseArtifactRepository refuses (not an Azure registry
//     host) is unsupported; an error becomes a refusal whose kind comes from the HTTP status it
//     carries, except the provider's own "not set in the service account annotation" and
//     missing-ServiceAccount errors, which are not-configured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fluxcd/pkg/auth"
	"github.com/fluxcd/pkg/auth/azure"
	"github.com/fluxcd/pkg/cache"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"credsim.dev/clients/internal/execproto"
	"credsim.dev/clients/internal/version"
)

func main() {
	sa := flag.String("service-account", "", "the objects' spec.serviceAccountName")
	def := flag.String("default-service-account", "", "Flux's --default-service-account (lockdown)")
	flag.Parse()
	auth.EnableObjectLevelWorkloadIdentity()
	if *def != "" {
		auth.SetDefaultServiceAccount(*def)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fail(err)
	}
	kube, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		fail(err)
	}
	tokens, err := cache.NewTokenCache(100)
	if err != nil {
		fail(err)
	}
	get := func(ctx context.Context, r execproto.Request) (*execproto.Credential, error) {
		repo := r.Registry + "/" + r.Repository
		// The provider's own parse decides whether this is an Azure registry at all; a URL it
		// refuses is one Flux does not handle (unsupported), before any identity is used.
		if _, err := (azure.Provider{}).ParseArtifactRepository(repo); err != nil {
			return nil, &execproto.Refusal{Kind: "unsupported", Message: err.Error()}
		}
		opts := []auth.Option{
			auth.WithClient(kube),
			auth.WithServiceAccountNamespace(r.Project),
			auth.WithCache(*tokens, cache.InvolvedObject{
				Kind: "OCIRepository", Name: strings.ReplaceAll(r.Repository, "/", "-"), Namespace: r.Project, Operation: "reconcile",
			}),
		}
		if *sa != "" {
			opts = append(opts, auth.WithServiceAccountName(*sa))
		}
		creds, err := auth.GetArtifactRegistryCredentials(ctx, azure.Provider{}, repo, opts...)
		if err != nil {
			if apierrors.IsNotFound(err) || strings.Contains(err.Error(), "is not set in the service account annotation") || errors.Is(err, auth.ErrDefaultServiceAccountNotFound) {
				return nil, execproto.NotConfigured("%v", err)
			}
			return nil, err
		}
		a, err := creds.Authorization()
		if err != nil {
			return nil, err
		}
		c := &execproto.Credential{Username: a.Username, Password: a.Password}
		if !creds.ExpiresAt.IsZero() {
			c.ExpiresAt = creds.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return c, nil
	}
	if err := execproto.Serve("flux-azure", version.Of("github.com/fluxcd/pkg/auth"), get); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
