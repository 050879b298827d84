//! `POST /oauth2/exchange` through the front door: the audiences and grant forms it takes (ARM's
//! audience, cloud-provider-azure's `access_token_refresh_token`), `GET` answered 404, and the
//! Entra tokens it refuses (another tenant, an expired one, a wrong audience, no role, a tenant
//! that does not match, a forged signature).

mod support;

use std::time::Duration;

use support::*;

#[tokio::test]
async fn exchange_accepts_arm_audience_cpa_form_and_rejects_get() {
    let w = World::new().await;
    let arm = w.mi_token("contoso", "project-a-mi", "https://management.azure.com/");
    let (s, _) = w
        .exchange(
            "contosoacr",
            &[
                ("grant_type", "access_token"),
                ("service", "contosoacr.azurecr.io"),
                ("access_token", &arm),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let tid = w
        .entra
        .directory()
        .tenant_named("contoso")
        .unwrap()
        .id
        .to_string();
    let aad = w.mi_token("contoso", "project-a-mi", ACR_AUD);
    let (s, _) = w
        .exchange(
            "contosoacr",
            &[
                ("grant_type", "access_token_refresh_token"),
                ("service", "contosoacr.azurecr.io"),
                ("tenant", &tid),
                ("access_token", &aad),
                ("refresh_token", &aad),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let resp = w
        .http
        .get("https://contosoacr.azurecr.io/oauth2/exchange")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

async fn refused_exchange(w: &World, token: &str, extra: &[(&str, &str)]) -> String {
    let mut form = vec![
        ("grant_type", "access_token"),
        ("service", "contosoacr.azurecr.io"),
        ("access_token", token),
    ];
    form.extend_from_slice(extra);
    let (s, body) = w.exchange("contosoacr", &form).await;
    assert_eq!(s, 401, "{body:#}");
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn exchange_refusals_other_tenant_expired_audience_no_role_tenant_mismatch() {
    let w = World::new().await;
    let foreign = w.mi_token("fabrikam", "fab-mi", ACR_AUD);
    assert!(
        refused_exchange(&w, &foreign, &[])
            .await
            .contains("not this registry's tenant")
    );
    let vault = w.mi_token("contoso", "project-a-mi", "https://vault.azure.net");
    assert!(refused_exchange(&w, &vault, &[]).await.contains("audience"));
    let norole = w.mi_token("contoso", "norole-mi", ACR_AUD);
    assert!(refused_exchange(&w, &norole, &[]).await.contains("no role"));
    let good = w.mi_token("contoso", "project-a-mi", ACR_AUD);
    let other_tid = w
        .entra
        .directory()
        .tenant_named("fabrikam")
        .unwrap()
        .id
        .to_string();
    assert!(
        refused_exchange(&w, &good, &[("tenant", &other_tid)])
            .await
            .contains("does not match")
    );
    let mut forged = good.clone();
    forged.pop();
    forged.push(if good.ends_with('A') { 'B' } else { 'A' });
    assert!(
        refused_exchange(&w, &forged, &[])
            .await
            .contains("not valid")
    );
    w.entra.clock().advance(Duration::from_secs(25 * 3600));
    assert!(refused_exchange(&w, &good, &[]).await.contains("expired"));
}
