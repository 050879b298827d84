// Command sdkcheck drives the unmodified Go SDKs and OCI libraries against credsim's fakes for the
// fidelity tests (mock-*/tests/go_clients.rs): `sdkcheck CASE`, parameters in CHECK_* variables,
// one JSON object on stdout with what the library returned (token claims, tags, digests), or
// {"error": "..."} and exit status 1. The fakes are reached the way any Go program reaches Azure:
// HTTPS_PROXY and SSL_CERT_FILE, nothing credsim-specific in the code.
//
// Cases:
//
//	workload-identity   azidentity.NewWorkloadIdentityCredential (AZURE_* from the environment)
//	client-assertion    azidentity.NewClientAssertionCredential (CHECK_TENANT, CHECK_CLIENT, CHECK_ASSERTION_FILE)
//	client-secret       azidentity.NewClientSecretCredential (CHECK_TENANT, CHECK_CLIENT, CHECK_SECRET)
//	managed-identity    azidentity.NewManagedIdentityCredential (CHECK_CLIENT: a user-assigned client ID, or empty)
//	default             azidentity.NewDefaultAzureCredential
//	                    each of the above: GetToken(CHECK_SCOPE) and the token's claims
//	acr-exchange        azcontainerregistry.AuthenticationClient: the AAD token (CHECK_SECRET's app,
//	                    or workload identity) exchanged for a refresh token, then for an access token (CHECK_REGISTRY, CHECK_SCOPE_ACR)
//	acr-tags            azcontainerregistry.Client.NewListTagsPager (CHECK_REGISTRY, CHECK_REPOSITORY)
//	oras-pull           oras-go: resolve and fetch a manifest (CHECK_REGISTRY, CHECK_REPOSITORY, CHECK_TAG, CHECK_USERNAME, CHECK_PASSWORD)
//	ggcr-pull           go-containerregistry remote.Get of a manifest (same parameters)
package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"oras.land/oras-go/v2/content"
	orasremote "oras.land/oras-go/v2/registry/remote"
	orasauth "oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

func main() {
	if len(os.Args) != 2 {
		fail(errors.New("usage: sdkcheck CASE"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := run(ctx, os.Args[1])
	if err != nil {
		fail(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func fail(err error) {
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"error": err.Error()})
	os.Exit(1)
}

func run(ctx context.Context, c string) (any, error) {
	switch c {
	case "workload-identity":
		cred, err := azidentity.NewWorkloadIdentityCredential(nil)
		return token(ctx, cred, err)
	case "client-assertion":
		file := os.Getenv("CHECK_ASSERTION_FILE")
		cred, err := azidentity.NewClientAssertionCredential(os.Getenv("CHECK_TENANT"), os.Getenv("CHECK_CLIENT"),
			func(context.Context) (string, error) {
				b, err := os.ReadFile(file)
				return strings.TrimSpace(string(b)), err
			}, nil)
		return token(ctx, cred, err)
	case "client-secret":
		cred, err := azidentity.NewClientSecretCredential(os.Getenv("CHECK_TENANT"), os.Getenv("CHECK_CLIENT"), os.Getenv("CHECK_SECRET"), nil)
		return token(ctx, cred, err)
	case "managed-identity":
		opts := &azidentity.ManagedIdentityCredentialOptions{}
		if id := os.Getenv("CHECK_CLIENT"); id != "" {
			opts.ID = azidentity.ClientID(id)
		}
		cred, err := azidentity.NewManagedIdentityCredential(opts)
		return token(ctx, cred, err)
	case "default":
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		return token(ctx, cred, err)
	case "acr-exchange":
		return acrExchange(ctx)
	case "acr-tags":
		return acrTags(ctx)
	case "oras-pull":
		return orasPull(ctx)
	case "ggcr-pull":
		return ggcrPull(ctx)
	}
	return nil, fmt.Errorf("unknown case %q", c)
}

func token(ctx context.Context, cred azcore.TokenCredential, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{os.Getenv("CHECK_SCOPE")}})
	if err != nil {
		return nil, err
	}
	claims, err := claimsOf(tok.Token)
	if err != nil {
		return nil, err
	}
	return map[string]any{"claims": claims, "expiresOn": tok.ExpiresOn.UTC().Format(time.RFC3339)}, nil
}

// claimsOf reads a JWT's payload without verifying it (the test checks what the fake minted).
func claimsOf(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(b, &claims)
}

// credential is the AAD credential of the ACR cases: an app's client secret when CHECK_SECRET is
// set, otherwise workload identity from the environment.
func credential() (azcore.TokenCredential, error) {
	if secret := os.Getenv("CHECK_SECRET"); secret != "" {
		return azidentity.NewClientSecretCredential(os.Getenv("CHECK_TENANT"), os.Getenv("CHECK_CLIENT"), secret, nil)
	}
	return azidentity.NewWorkloadIdentityCredential(nil)
}

func acrExchange(ctx context.Context) (any, error) {
	registry := os.Getenv("CHECK_REGISTRY")
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	aad, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://containerregistry.azure.net/.default"}})
	if err != nil {
		return nil, err
	}
	client, err := azcontainerregistry.NewAuthenticationClient("https://"+registry, nil)
	if err != nil {
		return nil, err
	}
	refresh, err := client.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, registry,
		&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: &aad.Token})
	if err != nil {
		return nil, err
	}
	if refresh.RefreshToken == nil {
		return nil, errors.New("no refresh_token in the exchange's answer")
	}
	access, err := client.ExchangeACRRefreshTokenForACRAccessToken(ctx, registry, os.Getenv("CHECK_SCOPE_ACR"), *refresh.RefreshToken,
		&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(azcontainerregistry.TokenGrantTypeRefreshToken)})
	if err != nil {
		return nil, err
	}
	if access.AccessToken == nil {
		return nil, errors.New("no access_token in the token endpoint's answer")
	}
	rc, err := claimsOf(*refresh.RefreshToken)
	if err != nil {
		return nil, err
	}
	ac, err := claimsOf(*access.AccessToken)
	if err != nil {
		return nil, err
	}
	return map[string]any{"refresh": rc, "access": ac, "refreshToken": *refresh.RefreshToken}, nil
}

func acrTags(ctx context.Context) (any, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	client, err := azcontainerregistry.NewClient("https://"+os.Getenv("CHECK_REGISTRY"), cred, nil)
	if err != nil {
		return nil, err
	}
	type tag struct {
		Name   string `json:"name"`
		Digest string `json:"digest"`
	}
	tags := []tag{}
	pager := client.NewListTagsPager(os.Getenv("CHECK_REPOSITORY"), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tags {
			if t.Name != nil && t.Digest != nil {
				tags = append(tags, tag{*t.Name, *t.Digest})
			}
		}
	}
	return map[string]any{"tags": tags}, nil
}

func orasPull(ctx context.Context) (any, error) {
	registry := os.Getenv("CHECK_REGISTRY")
	repo, err := orasremote.NewRepository(registry + "/" + os.Getenv("CHECK_REPOSITORY"))
	if err != nil {
		return nil, err
	}
	repo.Client = &orasauth.Client{
		Client: retry.DefaultClient,
		Cache:  orasauth.NewCache(),
		Credential: orasauth.StaticCredential(registry, orasauth.Credential{
			Username: os.Getenv("CHECK_USERNAME"), Password: os.Getenv("CHECK_PASSWORD"),
		}),
	}
	desc, rc, err := repo.FetchReference(ctx, os.Getenv("CHECK_TAG"))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, err
	}
	var manifest struct {
		Layers []json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(body, &manifest); err != nil {
		return nil, err
	}
	return map[string]any{"digest": desc.Digest.String(), "mediaType": desc.MediaType, "layers": len(manifest.Layers), "computed": digestOf(body)}, nil
}

func ggcrPull(ctx context.Context) (any, error) {
	ref, err := name.ParseReference(os.Getenv("CHECK_REGISTRY") + "/" + os.Getenv("CHECK_REPOSITORY") + ":" + os.Getenv("CHECK_TAG"))
	if err != nil {
		return nil, err
	}
	d, err := remote.Get(ref, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{
		Username: os.Getenv("CHECK_USERNAME"), Password: os.Getenv("CHECK_PASSWORD"),
	}))
	if err != nil {
		return nil, err
	}
	return map[string]any{"digest": d.Digest.String(), "mediaType": string(d.MediaType), "computed": digestOf(d.Manifest)}, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
