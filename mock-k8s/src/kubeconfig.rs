//! Kubeconfig files: one cluster, one user (a bearer token), one context. The server is the API
//! server's direct loopback listener (`kubectl` and Go clients never proxy loopback), trusted
//! through the run's CA given inline.

use base64::Engine as _;

/// A kubeconfig for `user` with `token` on `cluster` at `server`, trusting `ca_pem`.
pub fn render(
    cluster: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    token: &str,
    namespace: Option<&str>,
) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let ns = namespace
        .map(|n| format!("    namespace: {n}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {cluster}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: {user}@{cluster}\n  context:\n    cluster: {cluster}\n    user: {user}\n{ns}current-context: {user}@{cluster}\npreferences: {{}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_single_context_config() {
        let k = render(
            "shard-a",
            "https://127.0.0.1:1234",
            "PEM",
            "admin",
            "tok",
            Some("kargo"),
        );
        assert!(k.contains("server: https://127.0.0.1:1234\n"));
        assert!(k.contains("certificate-authority-data: UEVN\n"));
        assert!(k.contains("    token: tok\n"));
        assert!(k.contains("    namespace: kargo\n"));
        assert!(k.contains("current-context: admin@shard-a\n"));
    }
}
