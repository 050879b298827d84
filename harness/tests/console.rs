//! The console page of `credsim up`, in a real headless browser (Debian's Chromium, driven by
//! playwright-core through `clients/browser/console_check.mjs`): it loads, shows the demo world,
//! and shows a new event after a request is made; without the token it shows nothing. Each run
//! leaves its screenshot in the test's output directory (`CARGO_TARGET_TMPDIR/console/`).

#[path = "support/up.rs"]
mod up;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use up::Up;

fn driver() -> PathBuf {
    // The pinned clients (the venv, the Node clients and playwright-core) come with one script.
    let _ = mock_kit::testing::python().expect("the pinned clients");
    mock_kit::testing::workspace_root().join("clients/browser/console_check.mjs")
}

fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn console_url(up: &Up, token: &str) -> String {
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(up.state.join("control.json")).unwrap())
            .unwrap();
    format!("{}#token={token}", info["console"].as_str().unwrap())
}

fn run_driver(args: &[String]) -> Value {
    let out = Command::new("node")
        .arg(driver())
        .args(args)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or("null"))
        .unwrap_or_else(|_| {
            panic!(
                "the driver printed {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        out.status.success() && result["ok"] == true,
        "{result:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    result
}

#[test]
fn the_console_shows_the_demo_world_and_a_new_event_after_a_request() {
    let up = Up::start(&[]);
    let shot = output_dir().join("console.png");
    let _ = std::fs::remove_file(&shot);
    // The request: the node's managed identity asks IMDS for a Key Vault token, through env.sh.
    let trigger = format!(
        "set -e; . '{}/env.sh'; curl -sS --fail -H Metadata:true \"$AZURE_POD_IDENTITY_AUTHORITY_HOST/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net\" >/dev/null",
        up.state.display()
    );
    let mut args: Vec<String> = vec![
        "--url".into(),
        console_url(&up, &up.token()),
        "--screenshot".into(),
        shot.display().to_string(),
    ];
    for text in [
        "contoso",
        "fabrikam",
        "contosoacr",
        "shard-a",
        "project-a-mi",
        "shard-b",
        "kargo-controller",
    ] {
        args.extend(["--expect-text".into(), text.into()]);
    }
    args.extend([
        "--trigger-cmd".into(),
        trigger,
        "--expect-new-event-matching".into(),
        "https://vault.azure.net".into(),
    ]);
    let result = run_driver(&args);
    assert_eq!(result["status"], "connected", "{result:#}");
    assert!(
        result["newEvent"]
            .as_str()
            .is_some_and(|e| e.contains("shard-a-kubelet")),
        "{result:#}"
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    // No secret reached the page's text: the app's client secret is in world.json, not on screen.
    let world = up.world();
    let secret = world["tenants"][0]["apps"][0]["secret"].as_str().unwrap();
    assert!(!result.to_string().contains(secret));
}

#[test]
fn the_console_without_the_right_token_shows_nothing_of_the_world() {
    let up = Up::start(&[]);
    for (name, token) in [("wrong", "0".repeat(64)), ("none", String::new())] {
        let shot = output_dir().join(format!("console-{name}-token.png"));
        let args: Vec<String> = vec![
            "--url".into(),
            console_url(&up, &token),
            "--screenshot".into(),
            shot.display().to_string(),
            "--expect-unauthorized".into(),
            "--expect-text".into(),
            "contosoacr".into(),
        ];
        let result = run_driver(&args);
        assert_eq!(result["status"], "unauthorized", "{result:#}");
    }
}
