//! Projected ServiceAccount token files, as the kubelet maintains them for a workload-identity pod
//! (`/var/run/secrets/azure/wi/token/azure-identity-token`): written at start, and rewritten when
//! the token is older than 80% of its lifetime (the kubelet's rule), measured on the virtual clock.
//! Writes are atomic (a temporary file renamed over the old one), so readers never see half a
//! token.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::{K8sError, MockK8s};

/// A token file the emulator keeps fresh.
#[derive(Debug)]
pub struct ProjectedToken {
    cluster: MockK8s,
    namespace: String,
    service_account: String,
    audience: String,
    lifetime: Duration,
    path: PathBuf,
    /// When the current token was issued (virtual seconds since the epoch).
    issued_at: Mutex<i64>,
}

impl ProjectedToken {
    pub(crate) fn start(
        cluster: MockK8s,
        namespace: &str,
        service_account: &str,
        audience: &str,
        lifetime: Duration,
        path: &Path,
    ) -> Result<Self, K8sError> {
        let p = Self {
            cluster,
            namespace: namespace.to_owned(),
            service_account: service_account.to_owned(),
            audience: audience.to_owned(),
            lifetime,
            path: path.to_path_buf(),
            issued_at: Mutex::new(0),
        };
        p.rotate()?;
        Ok(p)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Mints a new token and replaces the file.
    pub fn rotate(&self) -> Result<(), K8sError> {
        let token = self.cluster.service_account_token(
            &self.namespace,
            &self.service_account,
            &[self.audience.as_str()],
            self.lifetime,
        )?;
        let tmp = self.path.with_extension("credsim-tmp");
        let write = |p: &Path| {
            std::fs::write(p, token.expose())
                .map_err(|e| K8sError::Token(format!("writing {} failed: {e}", p.display())))
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| K8sError::Token(format!("creating {} failed: {e}", dir.display())))?;
        }
        write(&tmp)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            K8sError::Token(format!("replacing {} failed: {e}", self.path.display()))
        })?;
        *self.issued_at.lock().expect("issued_at") = self.cluster.inner.clock.unix_seconds();
        Ok(())
    }

    /// Rotates when the token is older than 80% of its lifetime; returns whether it did.
    pub fn refresh_if_due(&self) -> Result<bool, K8sError> {
        let issued = *self.issued_at.lock().expect("issued_at");
        let age = self.cluster.inner.clock.unix_seconds() - issued;
        if age * 5 >= self.lifetime.as_secs() as i64 * 4 {
            self.rotate()?;
            return Ok(true);
        }
        Ok(false)
    }
}

impl ProjectedToken {
    /// Keeps the file fresh on a schedule, as the kubelet does: every `every` (real time) the
    /// token is checked against the virtual clock and rotated when due. The task ends when the
    /// returned handle is aborted or dropped with the runtime; a failed rotation is logged and
    /// retried at the next tick.
    pub fn keep_fresh(self: std::sync::Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(error) = self.refresh_if_due() {
                    tracing::warn!(%error, path = %self.path.display(), "rotating a projected token failed");
                }
            }
        })
    }
}

impl MockK8s {
    /// Writes a projected token for `namespace/service_account` with `audience` to `path`, and
    /// returns the handle that keeps it fresh ([`ProjectedToken::refresh_if_due`]).
    pub fn project_token(
        &self,
        namespace: &str,
        service_account: &str,
        audience: &str,
        lifetime: Duration,
        path: &Path,
    ) -> Result<ProjectedToken, K8sError> {
        ProjectedToken::start(
            self.clone(),
            namespace,
            service_account,
            audience,
            lifetime,
            path,
        )
    }
}
