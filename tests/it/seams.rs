//! Issue 20 §1: Helm never takes a skyhelm flag. Helm pre-parses its global flags from *all*
//! its arguments (FACTS.md §4), so a post-render option spelled like one (`--kubeconfig`,
//! `--namespace`) passed as `--post-renderer-args --kubeconfig=F` also changed what Helm did.
//!
//! - skyhelm's post-render options are compared with the global flags both Helms list.
//! - Every post-render option, in both forms (`--post-renderer-args --FLAG=V` and
//!   `--post-renderer-args=--FLAG=V`), through real Helm 3 and Helm 4 (`template` and `install
//!   --dry-run=client`): a logging 127.0.0.1 API server named by the SkyPilot kubeconfig's
//!   current-context is never contacted, and the release namespace is Helm's own.
//! - The harness detects a leak: with a pass-through post-renderer, the old spellings do reach
//!   Helm (the logging server is contacted; the namespace changes).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helm::{CHART, GOOD_CONFIG, Helm};
use crate::util::{bin, k8s_json, skyhelm};

/// Long flags (and short ones, as `-x`) of a `--help` text: (name, takes a value).
fn help_flags(help: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        // "-n, --namespace string   text" (Helm) or "--rbac <MODE>" (clap).
        let spec: Vec<&str> = t.split("  ").next().unwrap_or("").split(", ").collect();
        for part in spec {
            let mut words = part.split_whitespace();
            let Some(flag) = words.next() else { continue };
            let takes_value = words.next().is_some();
            if flag.starts_with('-') && flag.trim_start_matches('-').starts_with(|c: char| c.is_ascii_alphabetic()) {
                out.push((flag.trim_end_matches(',').to_string(), takes_value));
            }
        }
    }
    out
}

/// The global flags a Helm lists in `helm --help` ("Flags:" of the root command).
fn helm_global_flags(name: &str) -> BTreeSet<String> {
    let help = Helm::new(name).ok(&["--help"]);
    let flags: BTreeSet<String> = help_flags(&help).into_iter().map(|(f, _)| f).collect();
    // The parse found the flags FACTS.md §4 names (a broken parse cannot pass as "no overlap").
    for f in ["--kubeconfig", "--kube-context", "-n", "--namespace", "--debug", "--registry-config", "--qps"] {
        assert!(flags.contains(f), "{name} --help: {f} not found in {flags:?}");
    }
    flags
}

/// skyhelm's post-render options as `--help` shows them (name, takes a value), without help
/// and version.
fn post_render_flags() -> Vec<(String, bool)> {
    let out = skyhelm(&["post-render", "--help"], b"");
    assert!(out.status.success());
    let flags: Vec<(String, bool)> = help_flags(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .filter(|(f, _)| !matches!(f.as_str(), "-h" | "--help" | "-V" | "--version"))
        .collect();
    assert!(flags.iter().any(|(f, _)| f == "--skypilot-kubeconfig"), "{flags:?}");
    flags
}

#[test]
fn no_post_render_flag_is_a_helm_global_flag() {
    let ours: BTreeSet<String> = post_render_flags().into_iter().map(|(f, _)| f).collect();
    // With no subcommand (Helm 3 runs `skyhelm ARGS`) the same options apply.
    let top = skyhelm(&["--help"], b"");
    let top: BTreeSet<String> = help_flags(&String::from_utf8_lossy(&top.stdout))
        .into_iter()
        .map(|(f, _)| f)
        .filter(|f| !matches!(f.as_str(), "-h" | "--help" | "-V" | "--version"))
        .collect();
    assert_eq!(ours, top, "the top-level options are post-render's");
    for helm in ["helm3", "helm4"] {
        let globals = helm_global_flags(helm);
        let shared: Vec<&String> = ours.intersection(&globals).collect();
        assert!(shared.is_empty(), "post-render flags that {helm} also reads as its own: {shared:?}");
    }
    assert!(helm_global_flags("helm4").contains("--content-cache"), "Helm 4 lists its own globals");
}

#[test]
fn old_spellings_are_refused_by_post_render_and_taken_by_diff() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = crate::util::kubeconfig_file(dir.path());
    let kc = kc.to_str().expect("path");
    let input = crate::util::API_DEPLOYMENT;
    for (args, new) in [
        (vec!["post-render", "--kubeconfig", kc], "--skypilot-kubeconfig"),
        (vec!["post-render", &format!("--kubeconfig={kc}")], "--skypilot-kubeconfig"),
        (vec![&format!("--kubeconfig={kc}")], "--skypilot-kubeconfig"),
        (vec!["post-render", "--namespace", "sky"], "--release-namespace"),
        (vec!["--namespace=sky"], "--release-namespace"),
    ] {
        let out = skyhelm(&args, input.as_bytes());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert!(
            err.contains("Helm's own global flag") && err.contains(&format!("--post-renderer-args={new}=")),
            "{err}"
        );
    }
    // diff is never run by Helm: it still takes kubectl's names, with the same meaning.
    let new = skyhelm(
        &["diff", "--skypilot-kubeconfig", kc, "--release-namespace", "sky", "--color", "never"],
        input.as_bytes(),
    );
    let old = skyhelm(&["diff", "--kubeconfig", kc, "--namespace", "sky", "--color", "never"], input.as_bytes());
    assert_eq!(new.status.code(), Some(2), "{}", String::from_utf8_lossy(&new.stderr));
    assert_eq!((old.status.code(), &old.stdout), (new.status.code(), &new.stdout));
}

/// A logging HTTP server on 127.0.0.1 that answers like a Kubernetes API server with no
/// resources (enough for Helm 3's `install --dry-run=client` to get past discovery) and records
/// each request line. It stops when dropped, or after two minutes.
struct ApiServer {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl ApiServer {
    fn start() -> ApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let (requests, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (r, s) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let r = r.clone();
                        std::thread::spawn(move || serve(conn, &r));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ApiServer { port, requests, stop }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }

    /// A kubeconfig whose current-context (named `context`) is this server.
    fn kubeconfig(&self, dir: &Path, file: &str, context: &str, namespace: &str) -> PathBuf {
        let p = dir.join(file);
        std::fs::write(
            &p,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: logging\n  cluster: {{server: \"http://127.0.0.1:{}\"}}\n- name: prod\n  cluster: {{server: \"https://prod.example.com:6443\"}}\ncontexts:\n- name: {context}\n  context: {{cluster: logging, user: u, namespace: {namespace}}}\n- name: prod\n  context: {{cluster: prod, user: u}}\nusers:\n- name: u\n  user: {{token: placeholder}}\n",
                self.port
            ),
        )
        .expect("write kubeconfig");
        p
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut conn: TcpStream, requests: &Mutex<Vec<String>>) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
    requests.lock().expect("lock").push(line.clone());
    let path = line.split_whitespace().nth(1).unwrap_or("").split('?').next().unwrap_or("");
    let body = match path {
        "/version" => r#"{"major":"1","minor":"31","gitVersion":"v1.31.0","platform":"linux/amd64"}"#,
        "/api" => r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#,
        "/apis" => r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[]}"#,
        "/api/v1" => r#"{"kind":"APIResourceList","groupVersion":"v1","resources":[]}"#,
        _ => "",
    };
    let (status, body) = if body.is_empty() {
        ("404 Not Found", r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#)
    } else {
        ("200 OK", body)
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Where one Helm run is pointed: Helm's own kubeconfig (server `helm_api`, context namespace
/// `helm-ns`) and the SkyPilot kubeconfig skyhelm is given (server `victim`).
struct Setup {
    dir: tempfile::TempDir,
    helm_api: ApiServer,
    victim: ApiServer,
    helm_kubeconfig: PathBuf,
    skypilot_kubeconfig: PathBuf,
    values: PathBuf,
}

const HELM_NS: &str = "helm-ns";

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tmp");
        let (helm_api, victim) = (ApiServer::start(), ApiServer::start());
        let helm_kubeconfig = helm_api.kubeconfig(dir.path(), "helm-kubeconfig", "helm-own", HELM_NS);
        // Its current-context is not allowed (the list is [prod, in-cluster]): skyhelm itself
        // never contacts it; only Helm would, by taking the flag as its own --kubeconfig.
        let skypilot_kubeconfig = victim.kubeconfig(dir.path(), "skypilot-kubeconfig", "helm-victim", "victim-ns");
        let values = dir.path().join("values.yaml");
        std::fs::write(&values, GOOD_CONFIG).expect("values");
        Setup { dir, helm_api, victim, helm_kubeconfig, skypilot_kubeconfig, values }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().expect("path").to_string()
    }

    /// A value for each post-render option that makes a successful run.
    fn value(&self, flag: &str) -> String {
        match flag {
            "--config" => {
                std::fs::write(self.dir.path().join("skyhelm.yaml"), "rbac: add\n").expect("config");
                self.path("skyhelm.yaml")
            }
            "--secret-name" => "kube-credentials".into(),
            "--skypilot-kubeconfig" => self.skypilot_kubeconfig.to_str().expect("path").into(),
            "--deployment" => "sky-api-server".into(),
            "--container" => "skypilot-api".into(),
            "--release-namespace" => "zzz-skyhelm".into(),
            "--report-file" => self.path("report.txt"),
            "--diff-file" => self.path("diff.txt"),
            "--allowed-context" => "prod".into(),
            "--rbac" => "add".into(),
            "--max-input-bytes" => "100000000".into(),
            "--max-documents" => "100000".into(),
            "--max-depth" => "1000".into(),
            "--max-line-bytes" => "1000000".into(),
            "--contexts-file" => {
                let f = self.path("contexts.yaml");
                let kc = self.skypilot_kubeconfig.to_str().expect("path");
                let out = skyhelm(
                    &["kubeconfig", "pack", "--kubeconfig", kc, "--context", "prod", "--contexts-file", &f],
                    b"",
                );
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                f
            }
            other => panic!("post-render option {other} takes a value: give it one here so it is tried through Helm"),
        }
    }

    /// Runs `helm ARGS --post-renderer … ARGS-FOR-SKYHELM` without `-n`, with Helm's own
    /// kubeconfig, and returns Helm's output (stdout, success).
    fn helm(&self, helm: &Helm, cmd: &[&str], post_renderer: &str, pr_args: &[String]) -> (String, bool, String) {
        let values = self.values.to_str().expect("path");
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["sky", CHART, "-f", values, "--post-renderer", post_renderer]);
        args.extend(pr_args.iter().map(String::as_str));
        let report = self.dir.path().join("env-report.txt");
        let _ = std::fs::remove_file(&report);
        let out = helm.run_env(
            &args,
            &[("KUBECONFIG", self.helm_kubeconfig.as_os_str()), ("SKYHELM_REPORT_FILE", report.as_os_str())],
        );
        // `--report-file` given as a flag beats the environment.
        let flag_report = self.dir.path().join("report.txt");
        let report =
            std::fs::read_to_string(&report).or_else(|_| std::fs::read_to_string(&flag_report)).unwrap_or_default();
        let _ = std::fs::remove_file(&flag_report);
        (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.success(), report)
    }
}

/// The namespaces of the namespaced objects the chart renders in the release namespace.
fn release_namespaces(manifest: &str) -> BTreeSet<String> {
    k8s_json(manifest)
        .iter()
        .filter(|d| d["kind"] == "Deployment" || d["kind"] == "ConfigMap")
        .filter_map(|d| d["metadata"]["namespace"].as_str().map(str::to_string))
        .collect()
}

/// Both forms Helm users write: `--post-renderer-args --FLAG=V` (space) and
/// `--post-renderer-args=--FLAG=V`; a switch has no `=V`.
fn both_forms(flag: &str, value: Option<&str>) -> [Vec<String>; 2] {
    let arg = match value {
        Some(v) => format!("{flag}={v}"),
        None => flag.to_string(),
    };
    [vec!["--post-renderer-args".into(), arg.clone()], vec![format!("--post-renderer-args={arg}")]]
}

#[test]
fn helm_takes_no_skyhelm_flag_in_either_form() {
    let s = Setup::new();
    let (helm3, helm4) = (Helm::new("helm3"), Helm::new("helm4"));
    helm4.install_skyhelm_plugin();
    let b = bin();
    let skyhelm_path = b.to_str().expect("path");
    let mut runs = 0;
    for (flag, takes_value) in post_render_flags() {
        let value = takes_value.then(|| s.value(&flag));
        for pr_args in both_forms(&flag, value.as_deref()) {
            for (helm, renderer, name) in [(&helm3, skyhelm_path, "helm3"), (&helm4, "skyhelm", "helm4")] {
                // Helm 3's install asks its cluster (the logging `helm_api`) first; Helm 4's
                // client dry run asks nothing.
                let cmds: &[&[&str]] = &[&["template"], &["install", "--dry-run=client"]];
                for cmd in cmds {
                    let (stdout, ok, report) = s.helm(helm, cmd, renderer, &pr_args);
                    let what = format!("{name} {cmd:?} {pr_args:?}");
                    assert!(!report.starts_with("error"), "{what}: skyhelm failed: {report}");
                    assert!(!report.is_empty(), "{what}: skyhelm did not run");
                    let helm3_install = name == "helm3" && cmd[0] == "install";
                    if helm3_install {
                        // It fails later, building objects against the empty fake API server.
                        assert!(!ok, "{what}");
                    } else {
                        assert!(ok, "{what}: {stdout}");
                        let manifest = stdout.split_once("MANIFEST:").map_or(stdout.as_str(), |(_, m)| m);
                        assert_eq!(release_namespaces(manifest), BTreeSet::from([HELM_NS.to_string()]), "{what}");
                    }
                    runs += 1;
                }
            }
        }
    }
    assert_eq!(s.victim.requests(), Vec::<String>::new(), "Helm contacted the SkyPilot kubeconfig's cluster");
    assert!(
        s.helm_api.requests().iter().any(|r| r.starts_with("GET /version")),
        "Helm 3's install asks its own cluster: {:?}",
        s.helm_api.requests()
    );
    assert!(runs >= 8 * 18, "{runs} runs: 2 Helms × 2 commands × 2 forms per option");
}

/// The same harness sees a leak: a post-renderer that only passes the stream on, given the old
/// spellings in the space form, makes Helm 3 contact the SkyPilot kubeconfig's cluster and both
/// Helms render into the post-renderer's namespace; the `=` form leaks nothing.
#[test]
fn the_harness_detects_a_leaked_helm_flag() {
    let s = Setup::new();
    let pass = s.dir.path().join("pass.sh");
    std::fs::write(&pass, "#!/bin/sh\ncat\n").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let helm3 = Helm::new("helm3");
    let helm4 = Helm::new("helm4");
    let dir = helm4.plugins().join("pass");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("plugin.yaml"),
        "apiVersion: v1\ntype: postrenderer/v1\nname: pass\nversion: 0.1.0\nruntime: subprocess\nruntimeConfig:\n  platformCommand:\n    - command: /bin/sh\n      args: [\"-c\", \"cat\", \"pass\"]\n",
    )
    .expect("plugin");
    let pass = pass.to_str().expect("path");
    let kc = s.skypilot_kubeconfig.to_str().expect("path");

    let [space, eq] = both_forms("--kubeconfig", Some(kc));
    s.helm(&helm3, &["install", "--dry-run=client"], pass, &eq);
    assert!(s.victim.requests().is_empty(), "the = form does not leak");
    s.helm(&helm3, &["install", "--dry-run=client"], pass, &space);
    assert!(s.victim.requests().iter().any(|r| r.starts_with("GET /version")), "{:?}", s.victim.requests());

    for (helm, renderer) in [(&helm3, pass), (&helm4, "pass")] {
        let [space, eq] = both_forms("--namespace", Some("leaked"));
        let (out, ok, _) = s.helm(helm, &["template"], renderer, &space);
        assert!(ok, "{out}");
        assert_eq!(release_namespaces(&out), BTreeSet::from(["leaked".to_string()]));
        let (out, ok, _) = s.helm(helm, &["template"], renderer, &eq);
        assert!(ok, "{out}");
        assert_eq!(release_namespaces(&out), BTreeSet::from([HELM_NS.to_string()]));
    }
}

/// `-n` names the release namespace whatever skyhelm is given.
#[test]
fn the_release_namespace_is_what_dash_n_said() {
    let s = Setup::new();
    let helm4 = Helm::new("helm4");
    helm4.install_skyhelm_plugin();
    let helm3 = Helm::new("helm3");
    let b = bin();
    for (helm, renderer) in [(&helm3, b.to_str().expect("path")), (&helm4, "skyhelm")] {
        for pr in both_forms("--release-namespace", Some("zzz-skyhelm")) {
            let mut args = vec!["-n".to_string(), "from-dash-n".to_string()];
            args.extend(pr);
            // `-n` goes after the post-renderer's arguments here, as users append it.
            let (out, ok, report) = s.helm(helm, &["template"], renderer, &args);
            assert!(ok && !report.starts_with("error"), "{out}{report}");
            assert_eq!(release_namespaces(&out), BTreeSet::from(["from-dash-n".to_string()]));
        }
    }
}
