//! Clusters: names, backends, issuers, projects and namespaces with their ServiceAccounts, and
//! extra objects; a cluster's controller is resolved by `controller`.

use crate::located::Located;
use crate::model;
use crate::v1alpha1 as doc;
use crate::vocab::Backend;

use super::context::Cx;
use super::names::{is_dns_label, is_dns_subdomain, is_https_url};

/// The issuer of cluster `c`: as written, or one derived from its name.
pub(super) fn issuer_of(c: &doc::Cluster) -> String {
    c.issuer.as_ref().map_or_else(
        || format!("https://oidc.{}.credsim.test/", c.name.value),
        |i| i.value.clone(),
    )
}

impl Cx<'_> {
    pub(super) fn cluster(&mut self, i: usize, c: &doc::Cluster) -> model::Cluster {
        let base = format!("world.clusters[{i}]");
        if !is_dns_label(&c.name) {
            self.error(
                c.name.at,
                format!("{base}.name"),
                format!(
                    "`{}` is not a valid cluster name: use lowercase letters, digits and `-`",
                    c.name.value
                ),
            );
        }
        self.check_backend(&base, c);
        if let Some(url) = &c.issuer {
            self.check_issuer_url(url, &format!("{base}.issuer"));
        }
        self.unique(
            "namespace",
            c.projects
                .iter()
                .enumerate()
                .map(|(j, n)| (&n.name, format!("{base}.projects[{j}].name")))
                .chain(
                    c.namespaces
                        .iter()
                        .enumerate()
                        .map(|(j, n)| (&n.name, format!("{base}.namespaces[{j}].name"))),
                ),
        );
        let projects = c
            .projects
            .iter()
            .enumerate()
            .map(|(j, n)| self.namespace(&format!("{base}.projects[{j}]"), n))
            .collect();
        let namespaces = c
            .namespaces
            .iter()
            .enumerate()
            .map(|(j, n)| self.namespace(&format!("{base}.namespaces[{j}]"), n))
            .collect();
        let controller = c
            .controller
            .as_ref()
            .map(|ctl| self.controller(&format!("{base}.controller"), c, ctl));
        self.check_objects(&base, c);
        model::Cluster {
            name: c.name.value.clone(),
            backend: c.backend,
            kubeconfig: c.kubeconfig.as_ref().map(|k| k.value.clone()),
            issuer: issuer_of(c),
            max_token_expiration: c
                .max_token_expiration
                .as_ref()
                .map_or(std::time::Duration::from_secs(24 * 3600), |m| m.value.0),
            projects,
            namespaces,
            controller,
            objects: c.objects.clone(),
        }
    }

    /// `kubeconfig` is given exactly when the backend is `kubeconfig`.
    fn check_backend(&mut self, base: &str, c: &doc::Cluster) {
        match (c.backend, &c.kubeconfig) {
            (Backend::Kubeconfig, None) => self.error(
                c.name.at,
                format!("{base}.kubeconfig"),
                "`backend: kubeconfig` needs `kubeconfig` (the file)",
            ),
            (Backend::Embedded | Backend::Kind, Some(k)) => self.error(
                k.at,
                format!("{base}.kubeconfig"),
                "`kubeconfig` applies only to `backend: kubeconfig`",
            ),
            _ => {}
        }
    }

    fn check_issuer_url(&mut self, url: &Located<String>, path: &str) {
        if !is_https_url(url) {
            self.error(
                url.at,
                path.to_owned(),
                format!(
                    "issuer `{}` must be an https URL (Entra and Kubernetes accept no other)",
                    url.value
                ),
            );
        }
    }

    /// A project or namespace at `path`, with its ServiceAccounts.
    pub(super) fn namespace(&mut self, path: &str, n: &doc::Namespace) -> model::Namespace {
        if !is_dns_label(&n.name) {
            self.error(
                n.name.at,
                format!("{path}.name"),
                format!("`{}` is not a valid namespace name", n.name.value),
            );
        }
        self.unique(
            "ServiceAccount",
            n.service_accounts
                .iter()
                .enumerate()
                .map(|(k, s)| (&s.name, format!("{path}.serviceAccounts[{k}].name"))),
        );
        for (k, s) in n.service_accounts.iter().enumerate() {
            if !is_dns_subdomain(&s.name) {
                self.error(
                    s.name.at,
                    format!("{path}.serviceAccounts[{k}].name"),
                    format!("`{}` is not a valid ServiceAccount name", s.name.value),
                );
            }
        }
        model::Namespace {
            name: n.name.value.clone(),
            service_accounts: n
                .service_accounts
                .iter()
                .map(|s| model::ServiceAccount {
                    name: s.name.value.clone(),
                    annotations: s.annotations.clone(),
                    labels: s.labels.clone(),
                })
                .collect(),
            pod_service_account: n
                .pod_service_account
                .as_ref()
                .map_or_else(|| "default".to_owned(), |p| p.value.clone()),
        }
    }

    /// Each extra object says what it is: `apiVersion`, `kind` and `metadata.name`.
    fn check_objects(&mut self, base: &str, c: &doc::Cluster) {
        for (j, o) in c.objects.iter().enumerate() {
            let ok = o.get("apiVersion").is_some_and(|v| v.is_string())
                && o.get("kind").is_some_and(|v| v.is_string())
                && o.pointer("/metadata/name").is_some_and(|v| v.is_string());
            if !ok {
                self.error(
                    c.name.at,
                    format!("{base}.objects[{j}]"),
                    "each object needs `apiVersion`, `kind` and `metadata.name`",
                );
            }
        }
    }
}
