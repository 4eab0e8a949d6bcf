//! Property tests on generated streams: YAML-1.1-sensitive scalars in every quoting style,
//! comments, flow and block collections, anchors, comment-only and empty documents, CRLF, a
//! missing final newline, and the API server Deployment in random shapes. For every stream:
//! post-render succeeds with non-empty output, untouched documents are byte-identical, the
//! edited Deployment keeps every original value's meaning (Kubernetes' YAML reader), and a
//! second run changes nothing. PROPTEST_CASES sets the number of streams (default 64).

use proptest::prelude::*;

use crate::fidelity::strip_added;
use crate::util::{docs, k8s_json, skyhelm};

/// Tokens YAML 1.1 reads as something other than a string when plain (not `.inf`/`.nan`:
/// Kubernetes' reader cannot turn those into JSON at all).
const RISKY: &[&str] = &[
    "0600",
    "yes",
    "on",
    "off",
    "y",
    "n",
    "~",
    "null",
    "1e3",
    "0x1F",
    "12:30",
    "2001-12-14",
    "0065534",
    "true",
    "No",
    "-1",
    "0o17",
    "0b101",
    "+12",
];
const PLAIN_TEXT: &[&str] = &["nginx", "value with spaces", "a-b_c.d", "/root/.kube"];

fn scalar() -> impl Strategy<Value = String> {
    let token = prop_oneof![prop::sample::select(RISKY), prop::sample::select(PLAIN_TEXT)];
    (token, 0..3u8).prop_map(|(t, style)| match style {
        0 => t.to_string(),
        1 => format!("'{t}'"),
        _ => format!("\"{t}\""),
    })
}

/// A value at `indent` for a mapping key: `key: <here>`.
fn value(indent: usize) -> impl Strategy<Value = String> {
    let pad = " ".repeat(indent + 2);
    prop_oneof![
        scalar(),
        prop::collection::vec(scalar(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        (scalar(), scalar()).prop_map(|(a, b)| format!("{{k1: {a}, k2: {b}}}")),
        prop::collection::vec(prop::sample::select(PLAIN_TEXT), 1..3).prop_map(move |lines| format!(
            "|\n{}",
            lines.iter().map(|l| format!("{pad}{l}\n")).collect::<String>().trim_end()
        )),
        prop::sample::select(PLAIN_TEXT).prop_map(|t| format!("{t}  # trailing comment")),
    ]
}

fn config_map(i: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(value(2), 1..5).prop_map(move |vals| {
        let data: String = vals.iter().enumerate().map(|(k, v)| format!("  key{k}: {v}\n")).collect();
        format!("# Source: chart/templates/cm-{i}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  labels: &l{i}\n    a: b\ndata:\n{data}other:\n  <<: *l{i}\n  c: d\n")
    })
}

fn other_doc(i: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        config_map(i),
        Just("# Source: chart/templates/empty.yaml\n".to_string()),
        Just(String::new()),
        Just(format!("# just a comment {i}\n# and another\n")),
    ]
}

/// The API server Deployment in a random shape.
fn api_doc() -> impl Strategy<Value = String> {
    (0..5u8, 0..4u8, 0..3u8, 0..3u8, any::<bool>(), scalar(), scalar()).prop_map(|(vols, mounts, env, ann, indented, s1, s2)| {
        let seq = if indented { "  " } else { "" };
        let mut d = String::from("# Source: skypilot/templates/api-deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: sky-api-server\n  namespace: sky\n  labels: &app\n    app: sky\nspec:\n  selector:\n    matchLabels: *app\n  template:\n    metadata:\n      labels:\n        app: sky\n");
        match ann {
            0 => {}
            1 => d.push_str("      annotations:\n"),
            _ => d.push_str("      annotations:\n        other: \"on\"\n"),
        }
        d.push_str("    spec:\n      automountServiceAccountToken: yes\n      securityContext:\n        runAsUser: 0065534\n        runAsNonRoot: y\n      initContainers:\n      containers:\n");
        d.push_str(&format!("      {seq}- name: skypilot-api\n      {seq}  image: {s1}\n      {seq}  args: [{s2}, \"b\", 1e3]\n"));
        match env {
            0 => {}
            1 => d.push_str(&format!("      {seq}  env:\n      {seq}  {seq}- name: A\n      {seq}  {seq}  value: \"on\"\n")),
            _ => d.push_str(&format!("      {seq}  env: [{{name: B, value: 'no'}}]\n")),
        }
        match mounts {
            0 => {}
            1 => d.push_str(&format!("      {seq}  volumeMounts:\n")),
            2 => d.push_str(&format!("      {seq}  volumeMounts: [{{name: data, mountPath: /data, readOnly: yes}}]  # flow\n")),
            _ => d.push_str(&format!("      {seq}  volumeMounts:\n      {seq}  {seq}- name: data\n      {seq}  {seq}  mountPath: /data\n      {seq}  {seq}  readOnly: on\n")),
        }
        match vols {
            0 => {}
            1 => d.push_str("      volumes:\n"),
            2 => d.push_str("      volumes: ~\n"),
            3 => d.push_str("      volumes: []\n"),
            _ => d.push_str(&format!("      volumes:\n      {seq}- name: data\n      {seq}  secret:\n      {seq}    secretName: data\n      {seq}    defaultMode: 0600\n")),
        }
        d
    })
}

fn stream() -> impl Strategy<Value = String> {
    (prop::collection::vec(any::<u8>(), 1..6), api_doc(), 0..6usize, any::<bool>(), any::<bool>(), any::<bool>())
        .prop_flat_map(|(seeds, api, at, crlf, final_nl, lead_marker)| {
            let others: Vec<BoxedStrategy<String>> =
                seeds.iter().enumerate().map(|(i, _)| other_doc(i).boxed()).collect();
            (others, Just(api), Just(at), Just(crlf), Just(final_nl), Just(lead_marker)).prop_map(
                |(mut docs, api, at, crlf, final_nl, lead_marker)| {
                    docs.insert(at.min(docs.len()), api);
                    let mut s = String::new();
                    for (i, d) in docs.iter().enumerate() {
                        if i > 0 || lead_marker {
                            s.push_str(if i % 3 == 2 { "--- # marker comment\n" } else { "---\n" });
                        }
                        s.push_str(d);
                    }
                    if !final_nl {
                        while s.ends_with('\n') {
                            s.pop();
                        }
                    }
                    if crlf { s.replace('\n', "\r\n") } else { s }
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64), ..ProptestConfig::default() })]

    #[test]
    fn post_render_keeps_bytes_and_meaning(input in stream()) {
        let out = skyhelm(&["post-render", "--rbac", "off"], input.as_bytes());
        prop_assert!(out.status.success(), "{}\n{input}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("utf-8");
        prop_assert!(!text.is_empty());
        let (in_docs, out_docs) = (docs(&input), docs(&text));
        prop_assert_eq!(in_docs.len(), out_docs.len());
        let (in_json, mut out_json) = (k8s_json(&input), k8s_json(&text));
        for (i, (a, b)) in in_docs.iter().zip(&out_docs).enumerate() {
            if in_json[i]["kind"] == "Deployment" {
                let added = strip_added(&mut out_json[i], &in_json[i]);
                prop_assert_eq!(added.volumes.len(), 1, "volume not where it belongs:\n{}", b);
                prop_assert_eq!(added.mounts.len(), 1, "mount not where it belongs:\n{}", b);
                prop_assert_eq!(&out_json[i], &in_json[i], "meaning changed:\n{}", b);
            } else {
                prop_assert_eq!(a, b);
            }
        }
        let again = skyhelm(&["post-render", "--rbac", "off"], text.as_bytes());
        prop_assert_eq!(String::from_utf8_lossy(&again.stdout), text.as_str());
    }
}

/// Context names, `all` among them, and text YAML readers could take for something else.
const NAMES: &[&str] = &[
    "all",
    "ALL",
    "prod",
    "in-cluster",
    "ssh-x",
    "0123",
    "yes",
    "y",
    "~",
    "null",
    "a b",
    "x:y",
    "-x",
    "1e3",
    "#c",
    "'q'",
    "é",
];

proptest! {
    // Three PyYAML runs a case: 16 cases by default (PROPTEST_CASES raises it).
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(16), ..ProptestConfig::default() })]

    /// generate's list round trip (issue 20): the list generate writes into skyhelm.yaml reads
    /// back, as post-render's settings, as the very list it wrote into config.yaml (`[all]`
    /// included: a list, never the keyword), and PyYAML reads both lists alike.
    #[test]
    fn generate_writes_lists_that_read_back_as_the_same_list(
        names in prop::collection::vec(prop::sample::select(NAMES), 1..5),
        in_cluster: bool,
    ) {
        let file = serde_json::json!({
            "name": "sky",
            "environments": [{"name": "dev", "inCluster": in_cluster, "allowedContexts": names}],
        });
        let file = skyhelm::chart::EnvironmentsFile::parse("envs.yaml", &file.to_string()).expect("environments file");
        let templates: Vec<(String, String)> =
            skyhelm::chart::EMBEDDED.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
        let charts = skyhelm::chart::generate(&file, "envs.yaml", &Default::default(), &templates, skyhelm::model::Format::Chart)
            .expect("generate");
        let files = &charts[0].files;
        let values = crate::util::pyyaml_json(&files["values.yaml"]);
        let config = crate::util::pyyaml_json(values["skypilot"]["apiService"]["config"].as_str().expect("config"));
        let written = config["kubernetes"]["allowed_contexts"].clone();
        let settings = &files["skyhelm.yaml"];
        let cfg = skyhelm::settings::config_file(std::path::Path::new("/charts/sky-dev/skyhelm.yaml"), settings).expect("settings");
        let read = skyhelm::settings::Settings::resolve(&Default::default(), cfg).allowed_contexts;
        let list: Vec<String> = serde_json::from_value(written.clone()).expect("a list of names");
        if list.is_empty() {
            prop_assert_eq!(read, skyhelm::policy::contexts::GivenList::None);
        } else {
            prop_assert_eq!(read, skyhelm::policy::contexts::GivenList::Names(list), "{}", settings);
            prop_assert_eq!(&crate::util::pyyaml_json(settings)["allowed-contexts"], &written, "{}", settings);
        }
    }
}

/// Renders (once per form) a chart whose config.yaml has a line `PLACEHOLDER: x` right after
/// the allowed list skyhelm extends, and whose Deployment has an env entry `APP_ENDPOINT` with
/// value `ENVPLACEHOLDER`.
fn credential_render(helm4: bool) -> &'static str {
    use std::sync::OnceLock;
    static RENDERS: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    RENDERS[usize::from(helm4)].get_or_init(|| {
        let values = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts:\n        - prod\n    PLACEHOLDER: x\n  extraEnvs:\n  - name: APP_ENDPOINT\n    value: ENVPLACEHOLDER\n";
        let form = if helm4 { crate::helm::Form::Helm4 } else { crate::helm::Form::Helm3 };
        let input = crate::helm::render(form, values);
        assert!(input.contains("    PLACEHOLDER: x\n") && input.contains("value: ENVPLACEHOLDER\n"), "{input}");
        input
    })
}

/// A URL with user information in one of its spellings: (text before the secret, after it).
fn url_around() -> impl Strategy<Value = (String, String)> {
    let scheme =
        prop::sample::select(&["postgresql", "postgresql+psycopg2", "mysql", "https", "redis", "s3", "x-y.z"][..]);
    let user = prop::option::of("[A-Za-z0-9%._~-]{0,8}");
    let host = prop::sample::select(&["db", "db.internal:5432", "[::1]:5432", "10.0.0.7", "h"][..]);
    let tail = prop::sample::select(&["", "/sky", "/sky?sslmode=require", "/a/b#frag", "?x=1"][..]);
    (scheme, user, host, tail).prop_map(|(scheme, user, host, tail)| {
        let before = match user {
            Some(u) => format!("{scheme}://{u}:"),
            None => format!("{scheme}://"),
        };
        (before, format!("@{host}{tail}"))
    })
}

/// Where the URL stands: (config.yaml line, Deployment env value), with `URL` for it. Quoted so
/// that the YAML's structure never depends on the secret's characters.
fn placement(url: &str, style: u8, plain_ok: bool) -> String {
    let dq = serde_json::to_string(url).expect("json");
    let sq = format!("'{}'", url.replace('\'', "''"));
    match style {
        0 if plain_ok => format!("endpoint: {url}"),
        0 | 1 => format!("endpoint: {dq}"),
        2 => format!("endpoint: {sq}"),
        3 => format!("mirrors: [{sq}, other]"),
        4 => format!("run: {}", serde_json::to_string(&format!("psql --url={url} --quiet")).expect("json")),
        5 => format!("# old endpoint: {url}"),
        _ => format!("nested: {{list: [{{u: {dq}}}]}}"),
    }
}

fn credential_input(helm4: bool, before: &str, secret: &str, after: &str, style: u8) -> String {
    let url = format!("{before}{secret}{after}");
    let plain_ok = secret.chars().all(|c| c.is_ascii_alphanumeric() || "-._~%".contains(c));
    let line = placement(&url, style, plain_ok);
    credential_render(helm4).replacen("    PLACEHOLDER: x\n", &format!("    {line}\n"), 1).replacen(
        "value: ENVPLACEHOLDER\n",
        &format!("value: {}\n", serde_json::to_string(&url).expect("json")),
        1,
    )
}

fn reports(input: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = format!("--skypilot-kubeconfig={}", crate::util::kubeconfig_file(dir.path()).display());
    [&["--output", "json"][..], &["--color", "never", "--context", "1000"]]
        .iter()
        .map(|extra| {
            let mut args = vec!["diff", kc.as_str()];
            args.extend_from_slice(extra);
            let out = skyhelm(&args, input.as_bytes());
            assert_eq!(out.status.code(), Some(2), "{}\n{input}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).expect("utf-8")
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(32), ..ProptestConfig::default() })]

    /// A URL with user information, in any spelling and place (config.yaml value, list item,
    /// flow mapping, inside a longer string, a comment; the Deployment's env), Helm 3 or Helm 4:
    /// the reports do not depend on the secret's characters (only on its length), so they show
    /// none of it.
    #[test]
    fn urls_with_user_info_are_masked(
        helm4 in any::<bool>(),
        (before, after) in url_around(),
        secret in "[A-Za-z0-9%._~!$&*+,;=:/?# -]{6,16}",
        style in 0..7u8,
    ) {
        let shown = reports(&credential_input(helm4, &before, &secret, &after, style));
        let other: String = secret.chars().map(|c| if c == 'Z' { 'Y' } else { 'Z' }).collect();
        let hidden = reports(&credential_input(helm4, &before, &other, &after, style));
        prop_assert_eq!(&shown, &hidden, "the report depends on the secret");
        if !secret.contains(char::is_whitespace) {
            for out in &shown {
                prop_assert!(!out.contains(&secret), "{} shown:\n{}", secret, out);
            }
        }
    }
}
