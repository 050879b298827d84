//! `GET /metadata/instance?api-version=…&format=json`: the VM's compute and network facts, values
//! as strings, `tagsList` included (AKS nodes carry `aks-managed-kubeletIdentityClientID`).

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use crate::token::json_response;
use crate::{ImdsEvent, State};

pub(crate) fn routes() -> Router<State> {
    Router::new().route("/metadata/instance", get(instance))
}

async fn instance(
    axum::extract::State(state): axum::extract::State<State>,
    req: Request,
) -> Response {
    let node = state.node(req.extensions().get::<mock_kit::RequestContext>());
    let path = req.uri().path().to_owned();
    if let Some(resp) = state.fault(&node.node.name, "instance", &path).await {
        return resp;
    }
    let metadata_ok = req
        .headers()
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let api_version = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|p| p.strip_prefix("api-version="))
            .filter(|v| !v.is_empty())
    });
    let newest: Vec<&str> = crate::INSTANCE_API_VERSIONS
        .iter()
        .rev()
        .take(3)
        .copied()
        .collect();
    let resp = if !metadata_ok {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
        )
    } else if req.headers().contains_key("x-forwarded-for") {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": crate::FORWARDED_REFUSED}),
        )
    } else if api_version.is_none() {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds", "newest-versions": newest}),
        )
    } else if !api_version.is_some_and(|v| crate::INSTANCE_API_VERSIONS.contains(&v)) {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "Bad request. api-version was not a supported version", "newest-versions": newest}),
        )
    } else {
        json_response(StatusCode::OK, document(node))
    };
    state.inner.journal.push(ImdsEvent {
        at: state.inner.entra.clock().now(),
        node: node.node.name.clone(),
        endpoint: "instance".into(),
        identity: None,
        resource: None,
        status: resp.status().as_u16(),
        error: None,
        token: None,
    });
    resp
}

fn document(node: &crate::ServedNode) -> serde_json::Value {
    let n = &node.node;
    let subscription = mock_entra::directory::guid_for(&format!("{}/subscription", n.tenant));
    let rg = format!("MC_credsim_{}_{}", n.tenant, n.location);
    let vmss = "aks-nodepool1-vmss";
    let resource_id = format!(
        "/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/0"
    );
    let mut tags: Vec<(String, String)> = Vec::new();
    if let Some(kubelet) = node.identities.iter().find(|a| !a.system) {
        tags.push((
            "aks-managed-kubeletIdentityClientID".into(),
            kubelet.client_id.to_string(),
        ));
    }
    tags.push(("aks-managed-poolName".into(), "nodepool1".into()));
    tags.extend(n.tags.iter().cloned());
    let tags_list: Vec<serde_json::Value> = tags
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let tags_string = tags
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(";");
    // A stable private address per node.
    let octet = node.vm_id.as_bytes()[0] % 250 + 4;
    json!({
        "compute": {
            "azEnvironment": "AzurePublicCloud",
            "isHostCompatibilityLayerVm": "false",
            "location": n.location,
            "name": n.name,
            "offer": "",
            "osType": "Linux",
            "platformFaultDomain": "0",
            "platformUpdateDomain": "0",
            "provider": "Microsoft.Compute",
            "publisher": "",
            "resourceGroupName": rg,
            "resourceId": resource_id,
            "sku": "",
            "subscriptionId": subscription.to_string(),
            "tags": tags_string,
            "tagsList": tags_list,
            "version": "",
            "vmId": node.vm_id.to_string(),
            "vmScaleSetName": vmss,
            "vmSize": "Standard_D4s_v5",
            "zone": "",
        },
        "network": {
            "interface": [{
                "ipv4": {
                    "ipAddress": [{"privateIpAddress": format!("10.224.0.{octet}"), "publicIpAddress": ""}],
                    "subnet": [{"address": "10.224.0.0", "prefix": "16"}],
                },
                "ipv6": {"ipAddress": []},
                "macAddress": format!("6045BD{:06X}", u32::from_be_bytes([0, node.vm_id.as_bytes()[1], node.vm_id.as_bytes()[2], node.vm_id.as_bytes()[3]])),
            }],
        },
    })
}
