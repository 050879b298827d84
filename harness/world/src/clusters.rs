//! Clusters as the harness uses them: one kube-client code path for every backend.
//!
//! Whatever runs the API server — the embedded emulator (mock-k8s), a kind cluster created from
//! `kind-config`, or any cluster reached by a kubeconfig — the harness holds a [`ClusterHandle`]:
//! a `kube` client built from a kubeconfig, the cluster's issuer URL, and the operations credential
//! flows need (TokenRequest, the issuer's discovery document and JWKS). For clusters whose
//! private key credsim does not hold, [`ClusterHandle::publish_issuer`] fetches the JWKS from the
//! API server and publishes it at the issuer URL through the front door, where mock-entra reads it.
//!
//! [`KindBackend`] creates and deletes kind clusters; [`K3sBackend`] starts a k3s container with
//! the same issuer and key wiring through testcontainers, so a Rust test suite with Docker gets a
//! real API server without leaving `cargo test`. Both need Docker (and kind); their tests are
//! ignored where it is missing.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use mock_kit::{FrontDoor, Jwks, RsaSigningKey};
use serde_json::Value;

/// Which kind of cluster a handle talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterKind {
    Embedded,
    Kind,
    /// A k3s container started by testcontainers.
    K3s,
    Kubeconfig,
}

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the kubeconfig of cluster {cluster} is invalid")]
    Kubeconfig {
        cluster: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cluster {cluster}: {what} failed")]
    Api {
        cluster: String,
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("cluster {cluster}: {what}")]
    Other { cluster: String, what: String },
}

/// A cluster the harness can use.
#[derive(Clone)]
pub struct ClusterHandle {
    pub name: String,
    pub backend: ClusterKind,
    pub issuer: String,
    pub kubeconfig: String,
    /// The API server's URL, as the kubeconfig names it.
    pub server: String,
    /// The certificates the kubeconfig trusts for the API server (DER), if it names any.
    pub root_certs: Vec<Vec<u8>>,
    /// `insecure-skip-tls-verify` in the kubeconfig.
    pub accept_invalid_certs: bool,
    client: kube::Client,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A TokenRequest's answer.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub token: mock_kit::Secret<String>,
    pub expiration: String,
}

impl ClusterHandle {
    /// Connects with a kubeconfig (YAML text).
    pub async fn connect(
        name: &str,
        backend: ClusterKind,
        issuer: &str,
        kubeconfig: &str,
    ) -> Result<Self, ClusterError> {
        let kc_err = |source| ClusterError::Kubeconfig {
            cluster: name.to_owned(),
            source,
        };
        let parsed = Kubeconfig::from_yaml(kubeconfig).map_err(kc_err)?;
        let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
            .await
            .map_err(kc_err)?;
        let server = config.cluster_url.to_string();
        let root_certs = config.root_cert.clone().unwrap_or_default();
        let accept_invalid_certs = config.accept_invalid_certs;
        let client = kube::Client::try_from(config).map_err(|source| ClusterError::Api {
            cluster: name.to_owned(),
            what: "building the client".into(),
            source,
        })?;
        Ok(Self {
            name: name.to_owned(),
            backend,
            issuer: issuer.to_owned(),
            kubeconfig: kubeconfig.to_owned(),
            server,
            root_certs,
            accept_invalid_certs,
            client,
        })
    }

    /// Connects with a kubeconfig file (the "any cluster" backend).
    pub async fn from_kubeconfig_file(
        name: &str,
        issuer: &str,
        path: &Path,
    ) -> Result<Self, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|e| ClusterError::Other {
            cluster: name.to_owned(),
            what: format!("reading {} failed: {e}", path.display()),
        })?;
        Self::connect(name, ClusterKind::Kubeconfig, issuer, &text).await
    }

    /// The client, with the kubeconfig's (administrator's) credentials.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    fn api_err(&self, what: &str) -> impl FnOnce(kube::Error) -> ClusterError + '_ {
        let what = what.to_owned();
        move |source| ClusterError::Api {
            cluster: self.name.clone(),
            what,
            source,
        }
    }

    /// Creates a TokenRequest for `namespace/service_account`.
    pub async fn token_request(
        &self,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        expiration_seconds: Option<i64>,
    ) -> Result<IssuedToken, ClusterError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let req = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
                expiration_seconds,
                bound_object_ref: None,
            },
            ..TokenRequest::default()
        };
        let resp = api
            .create_token_request(service_account, &PostParams::default(), &req)
            .await
            .map_err(self.api_err(&format!("TokenRequest for {namespace}/{service_account}")))?;
        let status = resp.status.ok_or_else(|| ClusterError::Other {
            cluster: self.name.clone(),
            what: "the TokenRequest answer has no status".into(),
        })?;
        Ok(IssuedToken {
            token: mock_kit::Secret::new(status.token),
            expiration: status.expiration_timestamp.0.to_string(),
        })
    }

    async fn get_raw(&self, path: &str) -> Result<String, ClusterError> {
        let req = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| ClusterError::Other {
                cluster: self.name.clone(),
                what: format!("building GET {path}: {e}"),
            })?;
        self.client
            .request_text(req)
            .await
            .map_err(self.api_err(&format!("GET {path}")))
    }

    /// The API server's issuer discovery document.
    pub async fn discovery(&self) -> Result<Value, ClusterError> {
        let text = self.get_raw("/.well-known/openid-configuration").await?;
        serde_json::from_str(&text).map_err(|e| ClusterError::Other {
            cluster: self.name.clone(),
            what: format!("the discovery document is not JSON: {e}"),
        })
    }

    /// The API server's JWKS.
    pub async fn jwks(&self) -> Result<Jwks, ClusterError> {
        let text = self.get_raw("/openid/v1/jwks").await?;
        serde_json::from_str(&text).map_err(|e| ClusterError::Other {
            cluster: self.name.clone(),
            what: format!("the JWKS is not a JWK set: {e}"),
        })
    }

    /// Publishes the cluster's issuer documents (JWKS fetched from its API server) at the issuer
    /// URL through `door`. Checks first that the cluster really uses the issuer URL.
    pub async fn publish_issuer(&self, door: &FrontDoor) -> Result<(), ClusterError> {
        let discovery = self.discovery().await?;
        if discovery["issuer"].as_str() != Some(self.issuer.as_str()) {
            return Err(ClusterError::Other {
                cluster: self.name.clone(),
                what: format!(
                    "the API server's issuer is {}, not {}",
                    discovery["issuer"], self.issuer
                ),
            });
        }
        let jwks = self.jwks().await?;
        let site =
            mock_kit::issuer::published_site(&format!("issuer/{}", self.name), &self.issuer, jwks)
                .map_err(|e| ClusterError::Other {
                    cluster: self.name.clone(),
                    what: e.to_string(),
                })?;
        door.add_site(site).await.map_err(|e| ClusterError::Other {
            cluster: self.name.clone(),
            what: format!("publishing the issuer failed: {e}"),
        })?;
        Ok(())
    }
}

/// Creates and deletes kind clusters wired to a credsim issuer and key.
#[derive(Debug)]
pub struct KindBackend {
    pub name: String,
    pub dir: PathBuf,
}

impl KindBackend {
    /// Writes the config and keys into `dir`, runs `kind create cluster`, connects.
    pub async fn create(
        name: &str,
        issuer: &str,
        key: &RsaSigningKey,
        dir: &Path,
    ) -> Result<(Self, ClusterHandle), ClusterError> {
        let other = |what: String| ClusterError::Other {
            cluster: name.to_owned(),
            what,
        };
        let private = key.private_key_pem().map_err(|e| other(e.to_string()))?;
        let cluster = kind_config::KindCluster::new(name, issuer, &private, &key.public_key_pem())
            .map_err(|e| other(e.to_string()))?;
        let config = cluster.write(dir).map_err(|e| other(e.to_string()))?;
        let kubeconfig = dir.join("kubeconfig");
        let cmd = kind_config::kind_create_command(name, &config, &kubeconfig);
        let status = tokio::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .status()
            .await
            .map_err(|e| other(format!("running kind failed: {e}")))?;
        if !status.success() {
            return Err(other(format!("kind create cluster exited with {status}")));
        }
        let text = std::fs::read_to_string(&kubeconfig).map_err(|e| other(e.to_string()))?;
        let handle = ClusterHandle::connect(name, ClusterKind::Kind, issuer, &text).await?;
        Ok((
            Self {
                name: name.to_owned(),
                dir: dir.to_path_buf(),
            },
            handle,
        ))
    }

    /// Runs `kind delete cluster`.
    pub async fn delete(&self) -> Result<(), ClusterError> {
        let cmd = kind_config::kind_delete_command(&self.name);
        let status = tokio::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .status()
            .await
            .map_err(|e| ClusterError::Other {
                cluster: self.name.clone(),
                what: format!("running kind failed: {e}"),
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(ClusterError::Other {
                cluster: self.name.clone(),
                what: format!("kind delete cluster exited with {status}"),
            })
        }
    }
}

/// The k3s image the testcontainers backend runs.
pub const K3S_IMAGE: (&str, &str) = ("rancher/k3s", "v1.33.1-k3s1");

/// A k3s API server in a container (testcontainers), signing ServiceAccount tokens with a
/// credsim-provided key for a credsim-chosen issuer. Dropping it stops the container.
pub struct K3sBackend {
    pub container: testcontainers::ContainerAsync<testcontainers::GenericImage>,
    pub dir: PathBuf,
}

impl std::fmt::Debug for K3sBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K3sBackend")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl K3sBackend {
    /// Writes the keys into `dir`, starts k3s with [`kind_config::k3s_server_args`], connects.
    pub async fn start(
        name: &str,
        issuer: &str,
        key: &RsaSigningKey,
        dir: &Path,
    ) -> Result<(Self, ClusterHandle), ClusterError> {
        use testcontainers::core::{IntoContainerPort as _, Mount, WaitFor};
        use testcontainers::runners::AsyncRunner as _;
        use testcontainers::{GenericImage, ImageExt as _};
        let other = |what: String| ClusterError::Other {
            cluster: name.to_owned(),
            what,
        };
        let keys = dir.join("keys");
        let conf = dir.join("conf");
        for d in [&keys, &conf] {
            std::fs::create_dir_all(d).map_err(|e| other(e.to_string()))?;
        }
        let private = key.private_key_pem().map_err(|e| other(e.to_string()))?;
        std::fs::write(keys.join("sa.key"), private).map_err(|e| other(e.to_string()))?;
        std::fs::write(keys.join("sa.pub"), key.public_key_pem())
            .map_err(|e| other(e.to_string()))?;
        let mut args = kind_config::k3s_server_args(issuer, "/var/lib/credsim");
        args.push("--snapshotter=native".into());
        let container = GenericImage::new(K3S_IMAGE.0, K3S_IMAGE.1)
            .with_wait_for(WaitFor::message_on_stderr(
                "Node controller sync successful",
            ))
            .with_exposed_port(6443.tcp())
            .with_cmd(args)
            .with_env_var("K3S_KUBECONFIG_MODE", "644")
            .with_mount(Mount::bind_mount(
                conf.display().to_string(),
                "/etc/rancher/k3s/",
            ))
            .with_mount(Mount::bind_mount(
                keys.display().to_string(),
                "/var/lib/credsim",
            ))
            .with_privileged(true)
            .with_userns_mode("host")
            .start()
            .await
            .map_err(|e| other(format!("starting k3s failed: {e}")))?;
        let port = container
            .get_host_port_ipv4(6443.tcp())
            .await
            .map_err(|e| other(format!("k3s exposes no API port: {e}")))?;
        let kubeconfig = std::fs::read_to_string(conf.join("k3s.yaml"))
            .map_err(|e| other(format!("k3s wrote no kubeconfig: {e}")))?
            .replace(
                "https://127.0.0.1:6443",
                &format!("https://127.0.0.1:{port}"),
            );
        let handle = ClusterHandle::connect(name, ClusterKind::K3s, issuer, &kubeconfig).await?;
        Ok((
            Self {
                container,
                dir: dir.to_path_buf(),
            },
            handle,
        ))
    }
}
