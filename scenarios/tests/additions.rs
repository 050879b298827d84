//! Steps that add a tenant, an identity or a project: what they add exists for the steps after
//! them and not before, a second object of a name is refused where it is written, and what they
//! add is resolved with the defaults and checks of the world's own objects.

mod refusal;

use scenarios::model::{Action, NewIdentity};
use scenarios::{Diagnostic, load_str};

const WORLD: &str = "apiVersion: credsim.dev/v1alpha1
kind: Scenario
metadata: {name: additions}
world:
  tenants:
    - name: contoso
      managedIdentities: [{name: project-a-mi}]
  registries:
    - {name: contosoacr, tenant: contoso, repositories: [{name: project-c/app}]}
  clusters:
    - name: shard-a
      controller: {namespace: credsim-system, serviceAccount: controller}
      projects: [{name: project-a, serviceAccounts: [{name: credentials}]}]
steps:
";

const ADD_PROJECT: &str = "  - addProject:
      cluster: shard-a
      name: project-c
      serviceAccounts: [{name: credentials}]
";

const ADD_MI: &str = "  - addIdentity:
      tenant: contoso
      managedIdentity:
        name: project-c-mi
        federatedCredentials:
          - {name: shard-a, cluster: shard-a, serviceAccount: project-c/credentials}
";

const REQUEST_C: &str = "  - request:
      shard: shard-a
      project: project-c
      registry: contosoacr
      repository: project-c/app
      expect: {outcome: denied}
";

/// The errors refusing `text`.
fn errors(text: &str) -> Vec<Diagnostic> {
    refusal::errors("additions.yaml", text)
}

/// The file is refused with exactly one error, under `path`, saying `says`, on the line of the
/// `n`th line containing `needle`.
fn refused(text: &str, (needle, n): (&str, usize), path: &str, says: &str) {
    let diags = errors(text);
    assert_eq!(diags.len(), 1, "{diags:#?}\n{text}");
    let d = &diags[0];
    assert_eq!(d.path.as_deref(), Some(path), "{d}");
    assert!(d.message.contains(says), "{d}");
    let line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(n)
        .map(|(i, _)| i as u32 + 1)
        .unwrap();
    assert_eq!(d.at.line, line, "{d}\n{text}");
    assert!(
        d.to_string()
            .starts_with(&format!("additions.yaml:{line}:")),
        "{d}"
    );
}

#[test]
fn what_a_step_adds_later_steps_may_name() {
    let text = format!(
        "{WORLD}{ADD_PROJECT}{ADD_MI}  - addRoleAssignment: {{registry: contosoacr, principal: project-c-mi, role: AcrPull}}
  - annotate:
      cluster: shard-a
      serviceAccount: project-c/credentials
      annotations: {{azure.workload.identity/client-id: x}}
  - addTenant:
      name: fabrikam
      apps: [{{name: fabrikam-app}}]
  - addFederatedCredential:
      identity: fabrikam/fabrikam-app
      credential: {{name: shard-a, cluster: shard-a, serviceAccount: project-c/credentials}}
  - deleteFederatedCredential: {{identity: project-c-mi, name: shard-a}}
  - rotateKeys: {{tenant: fabrikam}}
{REQUEST_C}"
    );
    let s = load_str("additions.yaml", &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    let Action::AddProject { cluster, project } = &s.steps[0].action else {
        panic!("{:?}", s.steps[0]);
    };
    assert_eq!(
        (cluster.as_str(), project.name.as_str()),
        ("shard-a", "project-c")
    );
    assert_eq!(project.pod_service_account, "default");
    let Action::AddIdentity {
        tenant,
        identity: NewIdentity::ManagedIdentity(mi),
    } = &s.steps[1].action
    else {
        panic!("{:?}", s.steps[1]);
    };
    assert_eq!(tenant, "contoso");
    // The defaults of the world's own identities: IDs derived from the names, the subject from
    // the ServiceAccount, the exchange audience.
    assert_eq!(
        mi.client_id,
        scenarios::model::guid::client_id("contoso", "project-c-mi")
    );
    assert_eq!(
        mi.federated_credentials[0].subject,
        "system:serviceaccount:project-c:credentials"
    );
    assert_eq!(
        mi.federated_credentials[0].audiences,
        ["api://AzureADTokenExchange"]
    );
    let Action::AddTenant(t) = &s.steps[4].action else {
        panic!("{:?}", s.steps[4]);
    };
    assert_eq!(t.domains, ["fabrikam.onmicrosoft.com"]);
    assert_eq!(t.id, scenarios::model::guid::tenant_id("fabrikam"));
    // The world as it started does not have them; the world with the additions does.
    assert!(
        s.world
            .cluster("shard-a")
            .unwrap()
            .project("project-c")
            .is_none()
    );
    let grown = s.world_with_additions();
    assert!(
        grown
            .cluster("shard-a")
            .unwrap()
            .project("project-c")
            .is_some()
    );
    assert!(grown.tenant("fabrikam").is_some());
    assert!(
        grown
            .tenant("contoso")
            .unwrap()
            .managed_identities
            .iter()
            .any(|m| m.name == "project-c-mi")
    );
    // Rendered and loaded again, the same scenario.
    let yaml = scenarios::render::to_yaml(&s).unwrap();
    let again = load_str("additions.yaml", &yaml).unwrap().scenario;
    assert_eq!(again.steps, s.steps);
}

#[test]
fn steps_before_an_addition_cannot_name_it() {
    refused(
        &format!("{WORLD}{REQUEST_C}{ADD_PROJECT}"),
        ("project: project-c", 0),
        "steps[0].request.project",
        "shard `shard-a` has no project `project-c`",
    );
    refused(
        &format!(
            "{WORLD}  - addRoleAssignment: {{registry: contosoacr, principal: project-c-mi, role: AcrPull}}\n{ADD_PROJECT}{ADD_MI}"
        ),
        ("principal: project-c-mi", 0),
        "steps[0].addRoleAssignment.principal",
        "no app or managed identity named `project-c-mi`",
    );
    // An identity federated to a ServiceAccount of a project not yet added.
    refused(
        &format!("{WORLD}{ADD_MI}{ADD_PROJECT}"),
        ("serviceAccount: project-c/credentials", 0),
        "steps[0].addIdentity.managedIdentity.federatedCredentials[0].serviceAccount",
        "cluster `shard-a` has no ServiceAccount `project-c/credentials`",
    );
    refused(
        &format!(
            "{WORLD}  - rotateKeys: {{tenant: fabrikam}}\n  - addTenant: {{name: fabrikam}}\n"
        ),
        ("tenant: fabrikam", 0),
        "steps[0].rotateKeys.tenant",
        "no tenant named `fabrikam`",
    );
}

#[test]
fn a_second_object_of_a_name_is_refused_where_it_is_written() {
    refused(
        &format!("{WORLD}  - addProject: {{cluster: shard-a, name: project-a}}\n"),
        ("name: project-a}", 0),
        "steps[0].addProject.name",
        "cluster `shard-a` has a namespace `project-a` at this step",
    );
    refused(
        &format!("{WORLD}  - addProject: {{cluster: shard-a, name: credsim-system}}\n"),
        ("name: credsim-system", 0),
        "steps[0].addProject.name",
        "has a namespace `credsim-system`",
    );
    refused(
        &format!("{WORLD}  - addProject: {{cluster: shard-a, name: kube-system}}\n"),
        ("name: kube-system", 0),
        "steps[0].addProject.name",
        "has a namespace `kube-system`",
    );
    refused(
        &format!("{WORLD}{ADD_PROJECT}{ADD_PROJECT}"),
        ("name: project-c", 2), // after the repository's and the first project's
        "steps[1].addProject.name",
        "has a namespace `project-c` at this step",
    );
    refused(
        &format!("{WORLD}  - addTenant: {{name: contoso}}\n"),
        ("name: contoso}", 0),
        "steps[0].addTenant.name",
        "a tenant named `contoso` exists at this step",
    );
    refused(
        &format!("{WORLD}  - addTenant: {{name: fabrikam, domains: [contoso.onmicrosoft.com]}}\n"),
        ("name: fabrikam", 0),
        "steps[0].addTenant.domains",
        "`contoso.onmicrosoft.com` is verified in tenant `contoso` already",
    );
    refused(
        &format!(
            "{WORLD}  - addIdentity: {{tenant: contoso, managedIdentity: {{name: project-a-mi}}}}\n"
        ),
        ("name: project-a-mi", 1),
        "steps[0].addIdentity.managedIdentity.name",
        "tenant `contoso` has an app or managed identity named `project-a-mi` at this step",
    );
    let contoso = scenarios::model::guid::tenant_id("contoso");
    refused(
        &format!("{WORLD}  - addTenant: {{name: fabrikam, id: {contoso}}}\n"),
        ("name: fabrikam", 0),
        "steps[0].addTenant.id",
        "is tenant `contoso`'s",
    );
    let taken = scenarios::model::guid::client_id("contoso", "project-a-mi");
    refused(
        &format!(
            "{WORLD}  - addIdentity: {{tenant: contoso, app: {{name: other, clientId: {taken}}}}}\n"
        ),
        ("name: other", 0),
        "steps[0].addIdentity",
        "is also the client ID of `contoso/project-a-mi`",
    );
}

#[test]
fn two_tenants_of_the_world_cannot_share_an_id() {
    let text = "apiVersion: credsim.dev/v1alpha1
kind: Scenario
metadata: {name: tenant-ids}
world:
  tenants:
    - {name: contoso, id: 11111111-2222-4333-8444-555555555555}
    - {name: fabrikam, id: 11111111-2222-4333-8444-555555555555}
";
    refused(
        text,
        ("name: fabrikam", 0),
        "world.tenants[1].id",
        "the tenant ID 11111111-2222-4333-8444-555555555555 is tenant `contoso`'s",
    );
}

#[test]
fn an_identity_is_an_app_or_a_managed_identity_in_a_tenant_that_exists() {
    refused(
        &format!(
            "{WORLD}  - addIdentity: {{tenant: contoso, app: {{name: a}}, managedIdentity: {{name: b}}}}\n"
        ),
        ("tenant: contoso, app", 0),
        "steps[0].addIdentity",
        "give exactly one of `app` and `managedIdentity`",
    );
    refused(
        &format!("{WORLD}  - addIdentity: {{tenant: contoso}}\n"),
        ("tenant: contoso}", 0),
        "steps[0].addIdentity",
        "give exactly one of `app` and `managedIdentity`",
    );
    refused(
        &format!("{WORLD}  - addIdentity: {{tenant: contosso, app: {{name: a}}}}\n"),
        ("tenant: contosso", 0),
        "steps[0].addIdentity.tenant",
        "no tenant named `contosso`",
    );
    // The world's own checks: a malformed GUID, an invalid project name.
    refused(
        &format!("{WORLD}  - addIdentity: {{tenant: contoso, app: {{name: a, clientId: nope}}}}\n"),
        ("clientId: nope", 0),
        "steps[0].addIdentity.app.clientId",
        "is not a GUID",
    );
    refused(
        &format!("{WORLD}  - addProject: {{cluster: shard-a, name: Project_C}}\n"),
        ("name: Project_C", 0),
        "steps[0].addProject.name",
        "is not a valid namespace name",
    );
    refused(
        &format!("{WORLD}  - addProject: {{cluster: shard-b, name: project-c}}\n"),
        ("cluster: shard-b", 0),
        "steps[0].addProject.cluster",
        "no cluster named `shard-b`",
    );
}
