//! A cluster's controller (what makes the cluster a shard): its namespace, RBAC grants, the
//! identity it runs as (workload identity or an app's client secret), its token file, node and
//! install-time environment.

use crate::diagnostic::did_you_mean;
use crate::model::{self, EXCHANGE_AUDIENCE, IdentityKind, IdentityRef};
use crate::v1alpha1 as doc;
use crate::vocab::TokenScope;

use super::context::Cx;

/// Variables the harness sets itself; `controller.env` may not override them.
const RESERVED_ENV: &[&str] = &[
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "KUBECONFIG",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
];

impl Cx<'_> {
    /// The controller at `base` of `cluster`.
    pub(super) fn controller(
        &mut self,
        base: &str,
        cluster: &doc::Cluster,
        ctl: &doc::Controller,
    ) -> model::Controller {
        if cluster
            .projects
            .iter()
            .any(|p| p.name.value == ctl.namespace.value)
        {
            self.error(
                ctl.namespace.at,
                format!("{base}.namespace"),
                format!(
                    "the controller's namespace `{}` is also a project",
                    ctl.namespace.value
                ),
            );
        }
        let rbac = model::ControllerRbac {
            token_request: self.grant(
                &format!("{base}.rbac.tokenRequest"),
                cluster,
                ctl,
                &ctl.rbac.token_request,
            ),
            read_service_accounts: self.grant(
                &format!("{base}.rbac.readServiceAccounts"),
                cluster,
                ctl,
                &ctl.rbac.read_service_accounts,
            ),
        };
        let workload_identity = ctl
            .workload_identity
            .as_ref()
            .and_then(|w| self.identity_ref(w, &format!("{base}.workloadIdentity")));
        let client_secret = self.client_secret(base, ctl);
        self.check_token_file(base, ctl);
        if let Some(n) = &ctl.node {
            self.node_ref(n, &format!("{base}.node"));
        }
        self.check_env(base, ctl);
        model::Controller {
            namespace: ctl.namespace.value.clone(),
            service_account: ctl.service_account.value.clone(),
            rbac,
            workload_identity,
            client_secret,
            node: ctl.node.as_ref().map(|n| n.value.clone()),
            env: ctl.env.clone(),
            token_attributes: ctl.token_attributes.as_ref().map(token_attributes),
            token_file: token_file(&ctl.token_file),
        }
    }

    /// Grant `g` at `path`: `namespaces` exactly with `scope: namespaces`, each a namespace of
    /// the cluster (a project, another namespace, or the controller's own).
    fn grant(
        &mut self,
        path: &str,
        cluster: &doc::Cluster,
        ctl: &doc::Controller,
        g: &doc::Grant,
    ) -> model::Grant {
        match (g.scope, g.namespaces.is_empty()) {
            (TokenScope::Namespaces, true) => self.error(
                ctl.namespace.at,
                path.to_owned(),
                "`scope: namespaces` needs `namespaces`",
            ),
            (TokenScope::Projects | TokenScope::Cluster, false) => self.error(
                g.namespaces[0].at,
                format!("{path}.namespaces"),
                "`namespaces` applies only to `scope: namespaces`",
            ),
            _ => {}
        }
        let known: Vec<&str> = cluster
            .projects
            .iter()
            .chain(&cluster.namespaces)
            .map(|n| n.name.as_str())
            .chain([ctl.namespace.as_str()])
            .collect();
        for (k, ns) in g.namespaces.iter().enumerate() {
            if !known.contains(&ns.as_str()) {
                let hint = did_you_mean(ns, known.iter().copied());
                self.error_hint(
                    ns.at,
                    format!("{path}.namespaces[{k}]"),
                    format!(
                        "cluster `{}` has no namespace `{}`",
                        cluster.name.value, ns.value
                    ),
                    hint,
                );
            }
        }
        model::Grant {
            scope: g.scope,
            namespaces: g.namespaces.iter().map(|n| n.value.clone()).collect(),
            service_accounts: g.service_accounts.iter().map(|n| n.value.clone()).collect(),
        }
    }

    /// The app whose client secret the controller is installed with: an app that has secrets,
    /// and only without a workload identity (both set `AZURE_CLIENT_ID`).
    fn client_secret(&mut self, base: &str, ctl: &doc::Controller) -> Option<IdentityRef> {
        let c = ctl.client_secret.as_ref()?;
        let path = format!("{base}.clientSecret");
        let r = self.identity_ref(c, &path)?;
        let secrets = self
            .identities
            .iter()
            .find(|e| e.tenant == r.tenant && e.name == r.name)
            .map_or(0, |e| e.secrets);
        if r.kind != IdentityKind::App {
            self.error(
                c.at,
                path,
                format!(
                    "`{}` is a managed identity, which has no client secret",
                    c.value
                ),
            );
            return None;
        }
        if secrets == 0 {
            self.error(
                c.at,
                path,
                format!("the app `{}` has no `secrets` to install", c.value),
            );
            return None;
        }
        if ctl.workload_identity.is_some() {
            self.error(
                c.at,
                path,
                "`clientSecret` and `workloadIdentity` both set `AZURE_CLIENT_ID`; give the controller one of them",
            );
            return None;
        }
        Some(r)
    }

    /// A token file exists only with a workload identity, and lives as long as the API server
    /// allows at least.
    fn check_token_file(&mut self, base: &str, ctl: &doc::Controller) {
        if !ctl.token_file.is_default() && ctl.workload_identity.is_none() {
            self.error(
                ctl.namespace.at,
                format!("{base}.tokenFile"),
                "`tokenFile` applies only with `workloadIdentity` (there is no token file without one)",
            );
        }
        if let Some(e) = &ctl.token_file.expiration
            && e.value.0 < std::time::Duration::from_secs(600)
        {
            self.error(
                e.at,
                format!("{base}.tokenFile.expiration"),
                "a projected token lives at least 10m (the API server's minimum `expirationSeconds`)",
            );
        }
    }

    /// Each `env` key is a variable name, and not one the harness sets itself.
    fn check_env(&mut self, base: &str, ctl: &doc::Controller) {
        for key in ctl.env.keys() {
            let valid = !key.is_empty()
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.error(
                    ctl.namespace.at,
                    format!("{base}.env.{key}"),
                    format!("`{key}` is not an environment variable name"),
                );
            } else if RESERVED_ENV.contains(&key.as_str()) || key.starts_with("CREDSIM_") {
                self.error(
                    ctl.namespace.at,
                    format!("{base}.env.{key}"),
                    format!(
                        "`{key}` is set by the harness (see the exec protocol); `workloadIdentity`, `clientSecret` and `node` control the Azure variables"
                    ),
                );
            }
        }
    }
}

/// The attributes the controller's ServiceAccount tokens carry; the audience defaults to the
/// exchange audience.
fn token_attributes(t: &doc::TokenAttributes) -> model::TokenAttributes {
    model::TokenAttributes {
        audience: t
            .audience
            .as_ref()
            .map_or_else(|| EXCHANGE_AUDIENCE.to_owned(), |a| a.value.clone()),
        required_annotation_keys: t.required_annotation_keys.clone(),
        optional_annotation_keys: t.optional_annotation_keys.clone(),
    }
}

/// The token file with its defaults filled: the default expiration, rotated unless told not to.
fn token_file(f: &doc::TokenFile) -> model::TokenFile {
    model::TokenFile {
        expiration: f
            .expiration
            .as_ref()
            .map_or(model::TokenFile::default().expiration, |e| e.value.0),
        rotate: f.rotate.as_ref().is_none_or(|r| r.value),
    }
}
