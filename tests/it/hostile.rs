//! Hostile inputs (issue 16): no secret in any message, and files `kubeconfig pack` must not
//! inline. Every test plants a marker credential and looks for it in every output.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::util::{API_DEPLOYMENT, bin, clean, root, skyhelm};

const SECRET: &str = "SECRETSECRET123";

/// Everything a run printed, plus a side file if it exists.
fn everything(out: &Output, side: Option<&Path>) -> String {
    let mut s = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if let Some(p) = side {
        s.push_str(&std::fs::read_to_string(p).unwrap_or_default());
    }
    s
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// A Secret whose `stringData` comes before `metadata`, with a line that looks like
/// `  name: SECRET`, and a syntax error after `metadata.name` (or before it).
fn malformed_secret(error_before_metadata: bool) -> String {
    let bad = "  broken: [unclosed\n";
    format!(
        "apiVersion: v1\nkind: Secret\nstringData:\n  note: skypilot-api\n  password: |\n  name: {SECRET}\n{}metadata:\n  name: real-name\n{}",
        if error_before_metadata { bad } else { "" },
        if error_before_metadata { "" } else { bad },
    )
}

#[test]
fn error_labels_take_the_name_from_metadata_only() {
    for (before, label) in [(false, "document 2 (Secret real-name)"), (true, "document 2 (Secret ?)")] {
        let input = format!("{API_DEPLOYMENT}---\n{}", malformed_secret(before));
        for cmd in [&["post-render"][..], &["diff", "--output", "json"][..]] {
            let dir = tempfile::tempdir().expect("tmp");
            let report = dir.path().join("report.txt");
            let mut args = cmd.to_vec();
            args.extend(["--report-file", report.to_str().expect("path")]);
            let out = skyhelm(&args, input.as_bytes());
            assert_eq!(out.status.code(), Some(1), "{cmd:?}");
            if cmd[0] == "diff" {
                // `diff --output json` reports a failure as a JSON object with `error`.
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json error object");
                assert!(v["error"].as_str().is_some_and(|e| e.contains(label)), "{cmd:?}: {v}");
            } else {
                assert!(out.stdout.is_empty(), "{cmd:?}");
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            let side = std::fs::read_to_string(&report).expect("report file");
            assert!(stderr.contains(label), "{cmd:?}: {stderr}");
            assert!(side.contains(label), "{cmd:?}: {side}");
            assert!(!everything(&out, Some(&report)).contains(SECRET), "{cmd:?}: {stderr}{side}");
        }
    }
}

#[test]
fn error_labels_escape_control_characters() {
    let input =
        format!("{API_DEPLOYMENT}---\nkind: Secret\nmetadata:\n  name: \"a\\e[2Jb\"\n  x: skypilot-api\n  y: [\n");
    let out = skyhelm(&["post-render"], input.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(Secret a\\u{1b}[2Jb)"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

/// A kubeconfig whose duplicated key is itself a credential (line 15, column 5).
const DUPLICATE_KEY_KUBECONFIG: &str = "apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c1
  cluster: {server: https://x}
contexts:
- name: c
  context: {cluster: c1, user: u}
users:
- name: u
  user:
    token: abc
    SECRETSECRET123: 1
    SECRETSECRET123: 2
";

#[test]
fn duplicate_keys_are_reported_by_line_and_column_never_quoted() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = write(dir.path(), "kc", DUPLICATE_KEY_KUBECONFIG);
    let kc = kc.to_str().expect("path");
    // A Secret document handed over as a kubeconfig, with a secret key twice in `data`.
    let secret = write(
        dir.path(),
        "secret.yaml",
        &format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata:\n  {SECRET}: eA==\n  {SECRET}: eQ==\n"),
    );
    let secret = secret.to_str().expect("path");
    let report = dir.path().join("report");
    let rf = report.to_str().expect("path");
    let stream = API_DEPLOYMENT.as_bytes();
    for (args, stdin, position) in [
        (vec!["doctor", "--kubeconfig", kc], &b""[..], "line 15, column 5"),
        (vec!["doctor", "--kubeconfig", kc, "--output", "json"], b"", "line 15, column 5"),
        (vec!["doctor", "--kubeconfig", secret, "--output", "json"], b"", "line 6, column 3"),
        (vec!["kubeconfig", "pack", "--kubeconfig", kc, "--context", "c"], b"", "line 15, column 5"),
        (vec!["kubeconfig", "pack", "--kubeconfig", secret, "--context", "c"], b"", "line 6, column 3"),
        (vec!["post-render", "--skypilot-kubeconfig", kc, "--report-file", rf], stream, "line 15, column 5"),
        (vec!["diff", "--skypilot-kubeconfig", kc, "--report-file", rf], stream, "line 15, column 5"),
        (
            vec!["diff", "--skypilot-kubeconfig", secret, "--output", "json", "--report-file", rf],
            stream,
            "line 6, column 3",
        ),
    ] {
        let _ = std::fs::remove_file(&report);
        let out = skyhelm(&args, stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let all = everything(&out, Some(&report));
        assert!(all.contains("a mapping has the same key twice") && all.contains(position), "{args:?}: {all}");
        assert!(!all.contains(SECRET), "{args:?}: {all}");
        if args.contains(&"--report-file") {
            assert!(std::fs::read_to_string(&report).expect("report").contains(position), "{args:?}");
        }
    }
}

#[test]
fn kubeconfig_syntax_errors_quote_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    for (text, position) in [
        (format!("users:\n- name: u\n  user: {{token: [{SECRET}]}}\n"), "line 3, column 17"),
        (format!("users: @{SECRET}\n"), "line 1, column 8"),
        (format!("users:\n- \"{SECRET}\n"), "line 2, column 3"),
        (format!("users: !{SECRET} x\n"), "line 1"),
        (format!("users: *{SECRET}\n"), "line 1, column 8"),
    ] {
        let kc = write(dir.path(), "kc", &text);
        let out = skyhelm(&["doctor", "--kubeconfig", kc.to_str().expect("path"), "--output", "json"], b"");
        let all = everything(&out, None);
        assert_eq!(out.status.code(), Some(1), "{text}: {all}");
        assert!(all.contains(position), "{text}: {all}");
        assert!(!all.contains(SECRET), "{text}: {all}");
    }
}

/// Runs skyhelm and fails (instead of hanging) when it does not finish within 20 s.
fn run_bounded(args: &[&str]) -> Output {
    let mut child: Child = clean(&mut Command::new(bin()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("skyhelm {args:?} did not finish: it blocked on a file");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: stdout.join().expect("stdout"), stderr: stderr.join().expect("stderr") }
}

fn pack_kubeconfig(dir: &Path, user: &str) -> PathBuf {
    let ca = root().join("tests/fixtures/kubeconfigs/files/ca.crt");
    write(
        dir,
        "kc",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c1\n  cluster: {{server: https://x, certificate-authority: \"{}\"}}\ncontexts:\n- name: c\n  context: {{cluster: c1, user: u}}\nusers:\n- name: u\n  user: {user}\n",
            ca.display()
        ),
    )
}

fn pack(kc: &Path) -> Output {
    run_bounded(&[
        "kubeconfig",
        "pack",
        "--kubeconfig",
        kc.to_str().expect("path"),
        "--context",
        "c",
        "--output",
        "kubeconfig",
    ])
}

fn pack_refused(kc: &Path, wanted: &[&str]) {
    let out = pack(kc);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    for w in wanted {
        assert!(stderr.contains(w), "wanted {w:?} in: {stderr}");
    }
    assert!(!stderr.contains(SECRET), "{stderr}");
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success());
}

#[test]
fn pack_inlines_regular_files_only() {
    let dir = tempfile::tempdir().expect("tmp with a space");
    let d = dir.path().join("a dir");
    std::fs::create_dir(&d).expect("dir");
    let fifo = d.join("token fifo");
    mkfifo(&fifo);
    let link = d.join("link-to-fifo");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
    let big = write(&d, "big", &"a".repeat((1 << 20) + 1));
    for (target, why) in [
        (fifo.display().to_string(), "a FIFO"),
        (link.display().to_string(), "a FIFO"),
        ("/dev/zero".into(), "a device"),
        ("/dev/tty".into(), "a device"),
        (d.display().to_string(), "a directory"),
        (big.display().to_string(), "larger than 1 MiB"),
    ] {
        let kc = pack_kubeconfig(&d, &format!("{{tokenFile: \"{target}\"}}"));
        pack_refused(&kc, &["tokenFile of user u", &target, why]);
    }
    // A symlink to a regular file is followed, as kubectl does.
    let token = write(&d, "token", "tok-1\n");
    let link = d.join("link-to-token");
    std::os::unix::fs::symlink(&token, &link).expect("symlink");
    let out = pack(&pack_kubeconfig(&d, &format!("{{tokenFile: \"{}\"}}", link.display())));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Exactly 1 MiB is accepted (as a CA bundle of that size would be).
    let mut bundle = std::fs::read_to_string(root().join("tests/fixtures/kubeconfigs/files/ca.crt")).expect("ca");
    bundle.push_str(&"#".repeat((1 << 20) - bundle.len() - 1));
    bundle.push('\n');
    let ca = write(&d, "bundle.crt", &bundle);
    let kc = write(
        &d,
        "kc2",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c1\n  cluster: {{server: https://x, certificate-authority: \"{}\"}}\ncontexts:\n- name: c\n  context: {{cluster: c1, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n",
            ca.display()
        ),
    );
    let out = pack(&kc);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn pack_token_file_holds_one_token() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    for (content, why) in [
        (format!("tok\n{SECRET}\n"), "more than one line"),
        (format!("tok\r{SECRET}"), "more than one line"),
        (format!("tok\u{2028}{SECRET}"), "more than one line"),
        (format!("tok {SECRET}"), "white space or a control character"),
        (format!("tok\u{1b}{SECRET}"), "white space or a control character"),
        ("\n \n".to_string(), "is empty"),
    ] {
        let t = write(d, "token", &content);
        let kc = pack_kubeconfig(d, &format!("{{tokenFile: \"{}\"}}", t.display()));
        pack_refused(&kc, &["tokenFile of user u", &t.display().to_string(), why]);
    }
    std::fs::write(d.join("token"), b"tok\xff").expect("write");
    pack_refused(&pack_kubeconfig(d, &format!("{{tokenFile: \"{}\"}}", d.join("token").display())), &["not UTF-8"]);
    // The trailing line break (LF or CRLF) goes, as kubectl trims it.
    for content in ["tok-1\n", "tok-1\r\n", "tok-1"] {
        let t = write(d, "token", content);
        let out = pack(&pack_kubeconfig(d, &format!("{{tokenFile: \"{}\"}}", t.display())));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let view = crate::util::k8s_json(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(view[0]["users"][0]["user"]["token"], "tok-1", "{content:?}");
    }
}

#[test]
fn pack_certificates_and_keys_must_be_pem() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let files = root().join("tests/fixtures/kubeconfigs/files");
    let not_pem = write(d, "not-pem", SECRET);
    let cert = files.join("client.crt").display().to_string();
    let key = files.join("client.key").display().to_string();
    let np = not_pem.display().to_string();
    let encrypted = write(
        d,
        "enc.key",
        &format!("-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n", "QUJD"),
    );
    let enc = encrypted.display().to_string();
    for (user, field, path, why) in [
        (
            format!("{{client-certificate: \"{np}\", client-key: \"{key}\"}}"),
            "client-certificate",
            &np,
            "PEM certificate",
        ),
        (format!("{{client-certificate: \"{cert}\", client-key: \"{np}\"}}"), "client-key", &np, "PEM private key"),
        (
            format!("{{client-certificate: \"{key}\", client-key: \"{key}\"}}"),
            "client-certificate",
            &key,
            "PEM certificate",
        ),
        (format!("{{client-certificate: \"{cert}\", client-key: \"{cert}\"}}"), "client-key", &cert, "PEM private key"),
        (format!("{{client-certificate: \"{cert}\", client-key: \"{enc}\"}}"), "client-key", &enc, "encrypted"),
    ] {
        pack_refused(&pack_kubeconfig(d, &user), &[&format!("{field} of user u"), path, why]);
    }
    // The CA too.
    let kc = write(
        d,
        "kc-ca",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c1\n  cluster: {{server: https://x, certificate-authority: \"{np}\"}}\ncontexts:\n- name: c\n  context: {{cluster: c1, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    );
    pack_refused(&kc, &["certificate-authority of cluster c1", &np, "PEM certificate"]);
}

// X.509 version 1 client certificates (tests/fixtures/tls-v1, made by its make.sh).

fn tls_fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/tls-v1").join(name)
}

fn b64_file(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(tls_fixture(name)).expect("fixture"))
}

fn v1_kubeconfig(port: u16, key: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {}\ncontexts:\n- name: c\n  context: {{cluster: c1, user: alice, namespace: skypilot}}\nusers:\n- name: alice\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64_file("ca.crt"),
        b64_file("client-v1.crt"),
        b64_file(key)
    )
}

/// A TLS API double (Python's ssl, i.e. OpenSSL, as Go's crypto/tls would) that requires a
/// client certificate from the test CA and grants every SelfSubjectAccessReview; it prints
/// its port, then the common name of each client it served.
const TLS_DOUBLE: &str = r#"
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        subject = dict(x[0] for x in self.connection.getpeercert()["subject"])
        print("client", subject["commonName"], flush=True)
        review.update(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectAccessReview", status={"allowed": True})
        body = json.dumps(review).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ctx.load_verify_locations(sys.argv[3])
ctx.verify_mode = ssl.CERT_REQUIRED
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

struct TlsDouble {
    child: Child,
    port: u16,
    lines: BufReader<std::process::ChildStdout>,
}

impl Drop for TlsDouble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsDouble {
    fn start() -> TlsDouble {
        let mut child = Command::new(crate::util::python())
            .args(["-c", TLS_DOUBLE])
            .args([tls_fixture("server.crt"), tls_fixture("server.key"), tls_fixture("ca.crt")])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
        let mut port = String::new();
        lines.read_line(&mut port).expect("port");
        let port = port.trim().parse().unwrap_or_else(|_| panic!("no port from the TLS double: {port:?}"));
        TlsDouble { child, port, lines }
    }
}

#[test]
fn v1_client_certificates_are_accepted_as_kubectl_does() {
    let cert = std::fs::read_to_string(tls_fixture("client-v1.crt")).expect("cert");
    let der = pem_body(&cert);
    // The fixture really is version 1: its TBSCertificate starts with the serial number (an
    // INTEGER), not with the explicit `[0] version` a version 3 certificate has.
    let header = |b: &[u8]| if b[1] < 0x80 { 2 } else { 2 + usize::from(b[1] & 0x7f) };
    let tbs = &der[header(&der)..];
    assert_eq!(tbs[0], 0x30, "TBSCertificate");
    assert_eq!(tbs[header(tbs)], 0x02, "a version 1 TBSCertificate starts with the serial number");

    let mut double = TlsDouble::start();
    let dir = tempfile::tempdir().expect("tmp");
    let kc = write(dir.path(), "kc", &v1_kubeconfig(double.port, "client-v1.key"));
    let out = run_bounded(&[
        "doctor",
        "--kubeconfig",
        kc.to_str().expect("path"),
        "--live",
        "--timeout",
        "15",
        "--output",
        "json",
        "--allowed-context",
        "c",
    ]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    // The test server listens on 127.0.0.1, which doctor rightly reports as unusable from a pod
    // (exit 1): the one error.
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["errors"], 1, "{json}");
    let checks: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["check"].as_str())
        .filter(|c| *c != "loopback-server")
        .collect();
    assert_eq!(checks, ["live-ok"], "{json}");
    let mut line = String::new();
    double.lines.read_line(&mut line).expect("client line");
    assert_eq!(line.trim(), "client alice", "the double saw the v1 certificate");

    // pack inlines the same files, and doctor finds nothing wrong with the result.
    let files = write(
        dir.path(),
        "kc-files",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c1\n  cluster: {{server: \"https://10.0.0.1:1\", certificate-authority: \"{}\"}}\ncontexts:\n- name: c\n  context: {{cluster: c1, user: alice}}\nusers:\n- name: alice\n  user: {{client-certificate: \"{}\", client-key: \"{}\"}}\n",
            tls_fixture("ca.crt").display(),
            tls_fixture("client-v1.crt").display(),
            tls_fixture("client-v1.key").display()
        ),
    );
    let out = pack(&files);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let packed = write(dir.path(), "packed", &String::from_utf8_lossy(&out.stdout));
    let out = skyhelm(&["doctor", "--kubeconfig", packed.to_str().expect("path"), "--allowed-context", "c"], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_key_that_is_not_the_certificates_is_named_by_field() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = write(dir.path(), "kc", &v1_kubeconfig(1, "other-rsa.key"));
    let out = skyhelm(&["doctor", "--kubeconfig", kc.to_str().expect("path"), "--allowed-context", "c"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("key-mismatch") && text.contains("client-key-data is not the key of client-certificate-data"),
        "{text}"
    );
    assert!(!text.contains("invalid private key"), "{text}");
    let files = write(
        dir.path(),
        "kc-files",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c1\n  cluster: {{server: \"https://127.0.0.1:1\"}}\ncontexts:\n- name: c\n  context: {{cluster: c1, user: alice}}\nusers:\n- name: alice\n  user: {{client-certificate: \"{}\", client-key: \"{}\"}}\n",
            tls_fixture("client-v1.crt").display(),
            tls_fixture("other-rsa.key").display()
        ),
    );
    pack_refused(&files, &["client-key of user alice", "other-rsa.key", "is not the key of client-certificate"]);
}

fn pem_body(text: &str) -> Vec<u8> {
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).expect("base64")
}

/// A context name (config.yaml's lists, workspace keys, kubeconfig contexts) reaches messages
/// only as `messages::sanitize` shows it: no terminal escapes in stderr or the report, whether
/// the run is refused, warns, or checks the contexts the lists use.
#[test]
fn context_names_reach_messages_without_terminal_escapes() {
    let dir = tempfile::tempdir().expect("tmp");
    let kc = write(
        dir.path(),
        "kubeconfig",
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: c1\n  cluster: {server: https://c1.example.com, insecure-skip-tls-verify: true}\ncontexts:\n- name: prod\n  context: {cluster: c1, user: u1}\n- name: \"p\\e]0;t\\ax\"\n  context: {cluster: c1, user: u1}\nusers:\n- name: u1\n  user: {token: t}\n",
    );
    let report = dir.path().join("report.txt");
    let config = "apiService:\n  config: |\n    kubernetes:\n      allowed_contexts: [prod, \"p\\e]0;t\\ax\", \"\\e[31mred\\e]0;pwn\\a\"]\n    workspaces:\n      \"t\\e[2Jx\":\n        kubernetes:\n          allowed_contexts: [ssh-x, \"\\e]8;;http://evil\\aTRAIN\"]\n";
    let input = crate::helm::render(crate::helm::Form::Helm3, config);
    for extra in [&[][..], &["--allow-unknown-contexts"][..]] {
        let mut args = vec![
            "post-render".to_string(),
            format!("--skypilot-kubeconfig={}", kc.display()),
            format!("--report-file={}", report.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = skyhelm(&argv, input.as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let all = format!("{stderr}{}", std::fs::read_to_string(&report).unwrap_or_default());
        assert!(stderr.contains("red ]0;pwn"), "{extra:?}: the name is still shown: {stderr}");
        assert!(!all.contains(['\u{1b}', '\u{7}']), "{extra:?}: {all}");
    }
    // A workspace key written twice is named in the refusal.
    let config = "apiService:\n  config: |\n    workspaces:\n      \"t\\e[2Jx\": {}\n      \"t\\e[2Jx\": {}\n";
    let input = crate::helm::render(crate::helm::Form::Helm3, config);
    let out = skyhelm(&["post-render", "--no-mount"], input.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`t [2Jx` appears twice in config.yaml"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

/// An `envFrom` or `valueFrom` reference without a name (Kubernetes refuses it; a chart can
/// still render it) is no crash: an empty name searched in the stream panicked (exit 70).
#[test]
fn references_without_a_name_do_not_crash() {
    let refs = [
        "envFrom: [{configMapRef: {}}]",
        "envFrom: [{secretRef: {name: \"\"}}]",
        "env: [{name: SKYPILOT_IN_CLUSTER_CONTEXT_NAME, valueFrom: {configMapKeyRef: {key: k}}}]",
        "env: [{name: SKYPILOT_ALLOW_ALL_KUBERNETES_CONTEXTS, valueFrom: {configMapKeyRef: {name: \"\", key: k}}}]",
    ];
    for r in refs {
        let input = API_DEPLOYMENT.replace("        image: img\n", &format!("        image: img\n        {r}\n"));
        let out = skyhelm(&["post-render"], input.as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{r}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{r}: {stderr}");
        assert_eq!(out.status.success(), !out.stdout.is_empty(), "{r}: {stderr}");
    }
}
