//! [`Gateway`]: the front door's request path for listeners bound somewhere else (a sandbox's
//! network namespace), each serving as the proxy, a site, or TLS or plain HTTP to any host.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::listen::{Role, accept_loop};
use super::{FrontDoor, FrontDoorError, Shared};

/// What a listener handed to the front door stands for ([`Gateway::adopt`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adopted {
    /// The proxy port: what `HTTPS_PROXY` names.
    Proxy,
    /// The direct listener of the site with this name.
    Site(String),
    /// TLS to any host: recognised by its SNI and served or refused as a CONNECT tunnel to that
    /// host would be.
    AnyTls,
    /// Plain HTTP to any host, routed by `Host` (IMDS on `169.254.169.254`).
    AnyPlain,
}

/// A handle on the front door for listeners bound somewhere else: the harness's sandbox binds
/// them inside an implementation's network namespace and hands them over, so every connection
/// made in there reaches the front door's request path and its record, whatever address it
/// was sent to. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    loopback: Vec<(SocketAddr, Adopted)>,
}

/// Stops the listeners of one [`Gateway::adopt`] when dropped (connections in flight get the
/// front door's graceful end).
#[derive(Debug)]
pub struct Adoption {
    cancel: CancellationToken,
}

impl FrontDoor {
    /// A [`Gateway`] for the sites added so far.
    pub fn gateway(&self) -> Gateway {
        let mut loopback = vec![(self.proxy_addr, Adopted::Proxy)];
        let direct = self.direct.lock().expect("direct listeners");
        let mut sites: Vec<_> = direct
            .iter()
            .map(|(name, d)| (d.addr, Adopted::Site(name.clone())))
            .collect();
        sites.sort_by_key(|(addr, _)| *addr);
        loopback.extend(sites);
        Gateway {
            shared: self.shared.clone(),
            loopback,
        }
    }
}

impl Gateway {
    /// The loopback addresses clients are given (the proxy, each site's direct listener), with
    /// what each is, so that a network namespace can offer the same addresses.
    pub fn loopback(&self) -> &[(SocketAddr, Adopted)] {
        &self.loopback
    }

    /// Serves `listeners` (already listening) as what each stands for, until the returned
    /// [`Adoption`] is dropped or the front door shuts down. Requests on them carry `label` as
    /// their client label (a proxy URL's own label still wins on the proxy port). Must be called
    /// inside a Tokio runtime.
    pub fn adopt(
        &self,
        listeners: Vec<(std::net::TcpListener, Adopted)>,
        label: Option<String>,
    ) -> Result<Adoption, FrontDoorError> {
        let (shared, cancel) = self.shared.child();
        // Every listener is converted before any starts, so a failure starts none of them.
        let mut roles = Vec::with_capacity(listeners.len());
        for (listener, what) in listeners {
            roles.push(self.adopted_role(listener, what)?);
        }
        for (listener, role) in roles {
            let shared = shared.clone();
            let label = label.clone();
            self.shared
                .tracker
                .spawn(async move { accept_loop(listener, shared, role, label).await });
        }
        Ok(Adoption { cancel })
    }

    /// One handed-over listener made a Tokio listener, with the role it stands for.
    fn adopted_role(
        &self,
        listener: std::net::TcpListener,
        what: Adopted,
    ) -> Result<(TcpListener, Role), FrontDoorError> {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let bind_error = |source| FrontDoorError::Bind { addr, source };
        listener.set_nonblocking(true).map_err(bind_error)?;
        let listener = TcpListener::from_std(listener).map_err(bind_error)?;
        let role = match what {
            Adopted::Proxy => Role::Proxy,
            Adopted::AnyTls => Role::AnyTls,
            Adopted::AnyPlain => Role::DirectPlain { site: None },
            Adopted::Site(name) => {
                let site = self.shared.dispatcher.sites.get(&name).ok_or_else(|| {
                    bind_error(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("no site {name}"),
                    ))
                })?;
                Role::for_site(&self.shared.ca, site)?
            }
        };
        Ok((listener, role))
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("loopback", &self.loopback)
            .finish_non_exhaustive()
    }
}

impl Drop for Adoption {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
