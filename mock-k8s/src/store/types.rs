//! The resource types the emulator serves, as discovery and RBAC name them.

/// A resource type the emulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    /// Plural, lower-case (`serviceaccounts`).
    pub plural: &'static str,
    pub kind: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
}

impl ResourceType {
    /// `v1` or `group/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name errors use: `serviceaccounts` or `roles.rbac.authorization.k8s.io`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const RBAC: &str = "rbac.authorization.k8s.io";

/// Every resource type served.
pub const TYPES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        plural: "namespaces",
        kind: "Namespace",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        kind: "ServiceAccount",
        singular: "serviceaccount",
        namespaced: true,
        short_names: &["sa"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
        singular: "secret",
        namespaced: true,
        short_names: &[],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "configmaps",
        kind: "ConfigMap",
        singular: "configmap",
        namespaced: true,
        short_names: &["cm"],
    },
    ResourceType {
        group: RBAC,
        version: "v1",
        plural: "roles",
        kind: "Role",
        singular: "role",
        namespaced: true,
        short_names: &[],
    },
    ResourceType {
        group: RBAC,
        version: "v1",
        plural: "rolebindings",
        kind: "RoleBinding",
        singular: "rolebinding",
        namespaced: true,
        short_names: &[],
    },
    ResourceType {
        group: RBAC,
        version: "v1",
        plural: "clusterroles",
        kind: "ClusterRole",
        singular: "clusterrole",
        namespaced: false,
        short_names: &[],
    },
    ResourceType {
        group: RBAC,
        version: "v1",
        plural: "clusterrolebindings",
        kind: "ClusterRoleBinding",
        singular: "clusterrolebinding",
        namespaced: false,
        short_names: &[],
    },
];

/// The type served at `group`/`version`/`plural`.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    TYPES
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// The type of `kind` in `group`.
pub fn by_kind(group: &str, kind: &str) -> Option<&'static ResourceType> {
    TYPES.iter().find(|t| t.group == group && t.kind == kind)
}
