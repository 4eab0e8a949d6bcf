//! Issue 11 §3 and issue 20 §4: with --skypilot-kubeconfig, post-render runs doctor's checks on
//! the contexts of the final allowed lists. What makes a context unusable in the pod (a file
//! reference, a loopback server, an expired certificate) fails the render and the diff (Helm
//! hides a successful post-renderer's stderr); `--allow-unusable-contexts` makes those warnings.
//! The other findings are warnings on stderr, in the report file and in the diff's notes;
//! findings of contexts no list uses are notes. doctor's `loopback-server` check.

use std::process::Command;

use base64::Engine;

use crate::helm::{Form, render};
use crate::util::{run_with_stdin, skyhelm};

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match content.len() {
        n if n < 0x80 => v.push(n as u8),
        n if n < 0x100 => v.extend([0x81, n as u8]),
        n => v.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(content);
    v
}

/// base64 of a PEM certificate whose notAfter is `not_after` (GeneralizedTime): an X.509
/// structure with an empty issuer and subject and no real signature, which is all a
/// kubeconfig check reads.
fn cert_data(not_after: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let sha256_rsa = der(0x30, &der(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]));
    let validity = der(0x30, &[der(0x18, b"20190101000000Z"), der(0x18, not_after.as_bytes())].concat());
    let spki = der(
        0x30,
        &[der(0x30, &der(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01])), der(0x03, &[0])].concat(),
    );
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, &[1]),
            sha256_rsa.clone(),
            der(0x30, &[]),
            validity,
            der(0x30, &[]),
            spki,
        ]
        .concat(),
    );
    let cert = der(0x30, &[tbs, sha256_rsa, der(0x03, &[0])].concat());
    let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", b64.encode(cert));
    b64.encode(pem)
}

/// (GeneralizedTime, YYYY-MM-DD) of now + `days`, computed by Python's datetime.
fn utc_in(days: i64) -> (String, String) {
    let out = Command::new(crate::util::python())
        .args([
            "-c",
            "import datetime, sys; t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=int(sys.argv[1])); print(t.strftime('%Y%m%d%H%M%SZ %Y-%m-%d'))",
            &days.to_string(),
        ])
        .output()
        .expect("python3");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let (g, d) = text.trim().split_once(' ').expect("two dates");
    (g.to_string(), d.to_string())
}

const SECRETS: &[&str] = &["sEcReT", "pa55word", "admin:"];

/// A kubeconfig with one problem per context, and the date the expiring certificate expires.
fn problem_kubeconfig() -> (String, String) {
    let (soon, soon_date) = utc_in(10);
    let text = format!(
        "apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: gke
  cluster: {{server: 'https://34.1.2.3', insecure-skip-tls-verify: true}}
- name: kind
  cluster: {{server: 'https://admin:pa55word@127.0.0.1:40123/', certificate-authority: /home/me/.kind/ca.crt}}
- name: ok
  cluster: {{server: 'https://ok.example.com'}}
- name: spare
  cluster: {{server: 'https://localhost:6443', insecure-skip-tls-verify: true}}
contexts:
- name: prod
  context: {{cluster: gke, user: gke-user}}
- name: dev
  context: {{cluster: kind, user: files}}
- name: old
  context: {{cluster: ok, user: expired}}
- name: soon
  context: {{cluster: ok, user: expiring}}
- name: legacy
  context: {{cluster: ok, user: oidc}}
- name: in-cluster
  context: {{cluster: spare, user: files}}
- name: unused
  context: {{cluster: spare, user: gke-user}}
users:
- name: gke-user
  user:
    exec: {{apiVersion: client.authentication.k8s.io/v1beta1, command: gke-gcloud-auth-plugin, args: ['--token=sEcReT-arg']}}
- name: files
  user: {{client-certificate: /home/me/.kind/client.crt, client-key: /home/me/.kind/client.key}}
- name: expired
  user: {{client-certificate-data: {}, token: sEcReT-token-1}}
- name: expiring
  user: {{client-certificate-data: {}, token: sEcReT-token-2}}
- name: oidc
  user:
    auth-provider: {{name: oidc, config: {{id-token: sEcReT-id-token, client-secret: sEcReT-client}}}}
",
        cert_data("20200101000000Z"),
        cert_data(&soon),
    );
    (text, soon_date)
}

const PACK: &str = "inline it (`skyhelm kubeconfig pack` does) [file-reference]";

fn expected_warnings(soon_date: &str) -> Vec<String> {
    vec![
        "context `prod` (cluster `gke`): insecure-skip-tls-verify is true: the server's certificate is not checked [insecure-skip-tls-verify]".into(),
        "context `prod` (user `gke-user`): authenticates with an exec plugin (exec.command `gke-gcloud-auth-plugin`): the API server image must contain this command (and the credentials it uses); SkyPilot's docs recommend a static-token kubeconfig [exec-plugin]".into(),
        format!("context `dev` (cluster `kind`): certificate-authority points to the file /home/me/.kind/ca.crt, which will not exist inside the API server pod; {PACK}"),
        "context `dev` (cluster `kind`): server https://127.0.0.1:40123 is a loopback address: inside the API server pod it reaches the pod itself, not this cluster; use an address the pod can reach [loopback-server]".into(),
        format!("context `dev` (user `files`): client-certificate points to the file /home/me/.kind/client.crt, which will not exist inside the API server pod; {PACK}"),
        format!("context `dev` (user `files`): client-key points to the file /home/me/.kind/client.key, which will not exist inside the API server pod; {PACK}"),
        "context `in-cluster`: named like the in-cluster context: inside the pod `in-cluster` means the pod's own service account, not this context [shadowed-context]".into(),
        "context `old` (user `expired`): client-certificate-data: certificate expired on 2020-01-01 [certificate-expired]".into(),
        format!("context `soon` (user `expiring`): client-certificate-data: certificate expires on {soon_date}, within 30 days [certificate-expiring]"),
        "context `legacy` (user `oidc`): uses the deprecated auth-provider `oidc`, which needs its plugin inside the API server image [auth-provider]".into(),
    ]
}

/// The context warnings among lines that carry `prefix` before the message.
fn warnings(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter(|m| m.starts_with("context `") || m.starts_with("contexts `"))
        .map(str::to_string)
        .collect()
}

fn no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what}: {s:?} in\n{text}");
    }
}

const LISTS: &str = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, dev, in-cluster]\n    workspaces:\n      team-a:\n        kubernetes:\n          allowed_contexts: [old, soon, legacy, in-cluster]\n";

/// The findings of `expected_warnings` that make the context unusable in the pod.
const UNUSABLE: &[&str] = &["[file-reference]", "[loopback-server]", "[certificate-expired]"];

#[test]
fn unusable_allowed_contexts_fail_post_render_and_diff_with_the_fix() {
    let dir = tempfile::tempdir().expect("tmp");
    let (kc_text, soon_date) = problem_kubeconfig();
    let kc = dir.path().join("kube config");
    std::fs::write(&kc, &kc_text).expect("write");
    let kc = kc.to_str().expect("path");
    let report = dir.path().join("report.txt");
    let want: Vec<String> =
        expected_warnings(&soon_date).into_iter().filter(|w| UNUSABLE.iter().any(|u| w.ends_with(u))).collect();
    assert_eq!(want.len(), 5);
    for form in [Form::Helm3, Form::Helm4] {
        let input = render(form, LISTS);
        let out = skyhelm(
            &["post-render", "--skypilot-kubeconfig", kc, "--report-file", report.to_str().unwrap()],
            input.as_bytes(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing on stdout");
        assert!(
            stderr.starts_with("skyhelm: error: allowed contexts (5 findings) cannot work inside the API server pod"),
            "{stderr}"
        );
        assert_eq!(warnings(&stderr, "  "), want, "{stderr}");
        assert!(stderr.contains("--post-renderer-args=--allow-unusable-contexts"), "{stderr}");
        // Not the warnings of the usable contexts, nor the notes of the unused one.
        assert!(!stderr.contains("[exec-plugin]") && !stderr.contains("`unused`"), "{stderr}");
        let file = std::fs::read_to_string(&report).expect("report");
        assert_eq!(warnings(&file, "  "), want, "{file}");
        let diff = skyhelm(&["diff", "--skypilot-kubeconfig", kc, "--color", "never"], input.as_bytes());
        let diff_err = String::from_utf8_lossy(&diff.stderr).into_owned();
        assert_eq!(diff.status.code(), Some(1), "{diff_err}");
        assert_eq!(warnings(&diff_err, "  "), want, "{diff_err}");
        for (what, text) in [("stderr", &stderr), ("report", &file), ("diff", &diff_err)] {
            no_secret(what, text);
        }
    }
}

/// `--allow-unusable-contexts` (or SKYHELM_ALLOW_UNUSABLE_CONTEXTS, or `allow-unusable-contexts`
/// in the --config file): every finding of the allowed contexts is a warning and the render goes
/// through; the findings of the context no list uses are notes.
#[test]
fn each_finding_of_the_allowed_contexts_is_a_warning_on_stderr_report_file_and_diff() {
    let dir = tempfile::tempdir().expect("tmp");
    let (kc_text, soon_date) = problem_kubeconfig();
    let kc = dir.path().join("kube config");
    std::fs::write(&kc, &kc_text).expect("write");
    let kc = kc.to_str().expect("path");
    let report = dir.path().join("report.txt");
    let config = dir.path().join("skyhelm.yaml");
    std::fs::write(&config, "allow-unusable-contexts: true\n").expect("write");
    let config_arg = format!("--config={}", config.display());
    let want = expected_warnings(&soon_date);
    for (i, form) in [Form::Helm3, Form::Helm4].into_iter().enumerate() {
        let input = render(form, LISTS);
        let mut cmd = Command::new(crate::util::bin());
        crate::util::clean(&mut cmd).args([
            "post-render",
            "--skypilot-kubeconfig",
            kc,
            "--report-file",
            report.to_str().unwrap(),
        ]);
        // Helm 3: the environment; Helm 4: the flag.
        if i == 0 {
            cmd.env("SKYHELM_ALLOW_UNUSABLE_CONTEXTS", "true");
        } else {
            cmd.arg("--allow-unusable-contexts");
        }
        let out = run_with_stdin(&mut cmd, input.as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        assert_eq!(warnings(&stderr, "skyhelm: warning [allowed-contexts]: "), want, "{stderr}");
        let notes = warnings(&stderr, "skyhelm: note [allowed-contexts]: not used by any allowed list: ");
        assert_eq!(notes.len(), 3, "{stderr}");
        assert!(notes.iter().all(|n| n.starts_with("context `unused`")), "{notes:?}");
        let file = std::fs::read_to_string(&report).expect("report");
        assert_eq!(warnings(&file, "warning [allowed-contexts]: "), want, "{file}");
        let diff = skyhelm(&["diff", "--skypilot-kubeconfig", kc, "--color", "never", &config_arg], input.as_bytes());
        let diff_text = String::from_utf8_lossy(&diff.stdout).into_owned();
        assert_eq!(diff.status.code(), Some(2), "{}", String::from_utf8_lossy(&diff.stderr));
        assert_eq!(warnings(&diff_text, "warning (allowed-contexts): "), want, "{diff_text}");
        let json = skyhelm(&["diff", "--skypilot-kubeconfig", kc, "--output", "json", &config_arg], input.as_bytes());
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
        let notes: Vec<String> = v["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .filter(|n| n["severity"] == "warning" && n["rule"] == "allowed-contexts")
            .map(|n| n["message"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(notes, want);
        for (what, text) in [("stderr", &stderr), ("report", &file), ("diff", &diff_text)] {
            no_secret(what, text);
        }
        no_secret("json", &String::from_utf8_lossy(&json.stdout));
        // The manifests themselves are still written.
        assert!(String::from_utf8_lossy(&out.stdout).contains("secretName: kube-credentials"));
    }
}

/// Two contexts sharing a cluster: one finding naming both (an error; a warning with
/// --allow-unusable-contexts).
#[test]
fn a_finding_shared_by_contexts_is_one_warning_naming_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: shared\n  cluster: {server: 'https://[::ffff:127.0.0.1]:6443'}\ncontexts:\n- name: a\n  context: {cluster: shared, user: u}\n- name: b\n  context: {cluster: shared, user: u}\nusers:\n- name: u\n  user: {token: sEcReT-t}\n",
    )
    .expect("write");
    let input =
        render(Form::Helm3, "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [a, b, in-cluster]\n");
    let want = [
        "contexts `a`, `b` (cluster `shared`): server https://[::ffff:127.0.0.1]:6443 is a loopback address: inside the API server pod it reaches the pod itself, not this cluster; use an address the pod can reach [loopback-server]",
    ];
    let out = skyhelm(&["post-render", "--skypilot-kubeconfig", kc.to_str().unwrap()], input.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("skyhelm: error: an allowed context cannot work inside the API server pod"), "{stderr}");
    assert_eq!(warnings(&stderr, "  "), want);
    let out = skyhelm(
        &["post-render", "--skypilot-kubeconfig", kc.to_str().unwrap(), "--allow-unusable-contexts"],
        input.as_bytes(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(warnings(&stderr, "skyhelm: warning [allowed-contexts]: "), want);
}

/// Which contexts are checked: an unset list uses the current-context, `all` every context,
/// an external database (lists not in the chart) every context; the findings of contexts no
/// list uses are notes, so an unusable one fails nothing; without --skypilot-kubeconfig there is
/// nothing to check.
#[test]
fn the_contexts_checked_are_those_the_final_lists_use() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: kind\n  cluster: {server: 'https://localhost.:6443'}\n- name: gke\n  cluster: {server: 'https://34.1.2.3'}\ncontexts:\n- name: dev\n  context: {cluster: kind, user: t}\n- name: prod\n  context: {cluster: gke, user: gke}\nusers:\n- name: t\n  user: {token: sEcReT-t}\n- name: gke\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: /usr/lib/google-cloud-sdk/bin/gke-gcloud-auth-plugin}\n",
    )
    .expect("write");
    let kc = kc.to_str().unwrap();
    let loopback = "context `dev` (cluster `kind`): server https://localhost.:6443 is a loopback address: inside the API server pod it reaches the pod itself, not this cluster; use an address the pod can reach [loopback-server]";
    let exec = "context `prod` (user `gke`): authenticates with an exec plugin (exec.command `/usr/lib/google-cloud-sdk/bin/gke-gcloud-auth-plugin`): the API server image must contain this command (and the credentials it uses); SkyPilot's docs recommend a static-token kubeconfig [exec-plugin]";
    let cases: &[(&str, &str, &[&str])] = &[
        ("unset list, both sources: [current-context, in-cluster] is written", "{}\n", &[loopback]),
        (
            "unset list, kubeconfig only: the current-context",
            "kubernetesCredentials:\n  useApiServerCluster: false\n",
            &[loopback],
        ),
        ("all", "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: all\n", &[loopback, exec]),
        (
            "a list without dev",
            "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, in-cluster]\n",
            &[exec],
        ),
        (
            "a workspace list",
            "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [in-cluster]\n    workspaces:\n      ml:\n        kubernetes:\n          allowed_contexts: [dev, in-cluster]\n",
            &[loopback],
        ),
        ("external database", "apiService:\n  dbConnectionString: postgresql://db/sky\n", &[loopback, exec]),
    ];
    for (name, values, want) in cases {
        for form in [Form::Helm3, Form::Helm4] {
            let input = render(form, values);
            // The loopback server of `dev` fails the render exactly when a list uses `dev`.
            let out = skyhelm(&["post-render", "--skypilot-kubeconfig", kc], input.as_bytes());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.success(), !want.contains(&loopback), "{name}: {stderr}");
            if out.status.success() {
                assert_eq!(warnings(&stderr, "skyhelm: warning [allowed-contexts]: "), *want, "{name}: {stderr}");
                let note = format!("skyhelm: note [allowed-contexts]: not used by any allowed list: {loopback}");
                assert!(stderr.lines().any(|l| l == note), "{name}: {stderr}");
            } else {
                assert_eq!(warnings(&stderr, "  "), [loopback], "{name}: {stderr}");
            }
            no_secret(name, &stderr);
            let out =
                skyhelm(&["post-render", "--skypilot-kubeconfig", kc, "--allow-unusable-contexts"], input.as_bytes());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name}: {stderr}");
            assert_eq!(warnings(&stderr, "skyhelm: warning [allowed-contexts]: "), *want, "{name}: {stderr}");
        }
    }
    // Without --kubeconfig there is no kubeconfig to check.
    let input = render(Form::Helm3, "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: all\n");
    let out = skyhelm(&["post-render"], input.as_bytes());
    assert!(out.status.success());
    assert!(warnings(&String::from_utf8_lossy(&out.stderr), "skyhelm: warning [allowed-contexts]: ").is_empty());
}

#[test]
fn doctor_reports_a_loopback_server() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    let servers = [
        ("https://127.0.0.1:6443", "https://127.0.0.1:6443"),
        ("https://admin:pa55word@LOCALHOST.:6443/api", "https://LOCALHOST.:6443"),
        ("https://[::1]:6443", "https://[::1]:6443"),
        ("https://[::ffff:127.0.0.2]", "https://[::ffff:127.0.0.2]"),
        ("https://127.1:6443", "https://127.1:6443"),
        ("https://0.0.0.0:6443", "https://0.0.0.0:6443"),
    ];
    for (server, shown) in servers {
        std::fs::write(
            &kc,
            format!("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster: {{server: '{server}'}}\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"),
        )
        .expect("write");
        let out = run_with_stdin(
            crate::util::clean(&mut Command::new(crate::util::bin())).args([
                "doctor",
                "--kubeconfig",
                kc.to_str().unwrap(),
                "--allowed-context",
                "c",
            ]),
            b"",
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Unusable in the pod: an error, named by the context.
        assert_eq!(out.status.code(), Some(1), "{text}");
        let line = format!(
            "  context c  loopback-server  cluster `k`: server {shown} is a loopback address: inside the API server pod it reaches the pod itself, not this cluster; use an address the pod can reach\n"
        );
        assert!(text.contains(&format!("ERRORS\n{line}")), "{server}:\n{text}");
        no_secret(server, &text);
    }
    for server in ["https://10.0.0.1:6443", "https://localhost.example.com", "https://127.0.0.1.nip.io"] {
        std::fs::write(
            &kc,
            format!("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster: {{server: '{server}'}}\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"),
        )
        .expect("write");
        let out = skyhelm(&["doctor", "--kubeconfig", kc.to_str().unwrap(), "--allowed-context", "c"], b"");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("loopback-server"), "{server}: {text}");
    }
}

/// A contexts file records each context's server: a loopback one fails post-render too (the same
/// classification), and doctor --contexts-file exits 1 for it only when a list uses the context.
#[test]
fn a_contexts_files_loopback_server_fails_post_render_and_doctor() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        crate::util::KUBECONFIG
            .replace("clusters:\n", "clusters:\n- name: local\n  cluster: {server: 'https://127.0.0.1:6443'}\n")
            .replace(
                "- name: train\n  context: {cluster: c1, user: u1}",
                "- name: train\n  context: {cluster: local, user: u1}",
            ),
    )
    .expect("write");
    let file = dir.path().join("contexts.yaml");
    let (kc, file) = (kc.to_str().unwrap(), file.to_str().unwrap());
    let out = skyhelm(
        &["kubeconfig", "pack", "--kubeconfig", kc, "--context", "prod", "--context", "train", "--contexts-file", file],
        b"",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let input = render(Form::Helm3, "{}\n");
    let input = input.as_bytes();
    let out = skyhelm(&["post-render", "--contexts-file", file, "--allowed-context", "prod,train"], input);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("context `train`: server https://127.0.0.1:6443 is a loopback address"), "{err}");
    // Not allowed: a note, and the render goes through.
    let out = skyhelm(&["post-render", "--contexts-file", file, "--allowed-context", "prod,in-cluster"], input);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("note [allowed-contexts]: not used by any allowed list: context `train`: server"), "{err}");
    for (allowed, code) in [("train", 1), ("prod", 0)] {
        let out = skyhelm(&["doctor", "--contexts-file", file, "--allowed-context", allowed], b"");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{allowed}: {text}");
        assert!(text.contains("context train  loopback-server"), "{text}");
    }
}

/// SkyPilot never uses a kubeconfig context named `ssh-*` (`existing_allowed_contexts` drops
/// them before `all` and SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS are expanded; an SSH node pool's
/// context points at a local tunnel, 127.0.0.1): its loopback server is a note, never the error
/// that fails the render, as SkyPilot's own view of the output confirms.
#[test]
fn an_ssh_context_is_never_used_so_its_findings_are_notes() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: gke\n  cluster: {server: 'https://34.1.2.3'}\n- name: tunnel\n  cluster: {server: 'https://127.0.0.1:6443'}\ncontexts:\n- name: prod\n  context: {cluster: gke, user: t}\n- name: ssh-box\n  context: {cluster: tunnel, user: t}\nusers:\n- name: t\n  user: {token: sEcReT-t}\n",
    )
    .expect("write");
    let kc_arg = kc.to_str().unwrap();
    let note = "skyhelm: note [allowed-contexts]: not used by any allowed list: context `ssh-box` (cluster `tunnel`): server https://127.0.0.1:6443 is a loopback address: inside the API server pod it reaches the pod itself, not this cluster; use an address the pod can reach [loopback-server]";
    let cases = [
        ("all", "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: all\n"),
        (
            "SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS",
            "apiService:\n  extraEnvs:\n    - name: SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS\n      value: \"true\"\n",
        ),
        ("external database", "apiService:\n  dbConnectionString: postgresql://db/sky\n"),
    ];
    for (name, values) in cases {
        for form in [Form::Helm3, Form::Helm4] {
            let input = render(form, values);
            let out = skyhelm(&["post-render", "--skypilot-kubeconfig", kc_arg], input.as_bytes());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name} {form:?}: {stderr}");
            assert!(stderr.lines().any(|l| l == note), "{name} {form:?}: {stderr}");
            if name == "external database" {
                continue; // the lists are in the database: SkyPilot's view has none to judge
            }
            let view = crate::skypilot::skypilot_view(&String::from_utf8_lossy(&out.stdout), Some(&kc));
            let used: Vec<&str> =
                view["global"].as_array().expect("global").iter().filter_map(|v| v.as_str()).collect();
            assert!(used.contains(&"prod") && !used.contains(&"ssh-box"), "{name} {form:?}: SkyPilot uses {used:?}");
        }
    }
    let out = skyhelm(&["doctor", "--kubeconfig", kc_arg, "--allowed-context", "all"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}
