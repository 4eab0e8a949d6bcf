//! The Helm 4 plugin as users get it: `helm-plugin package --sign` (with a throwaway GnuPG key
//! and Helm 4's own signing), `helm plugin install` of the package from a file and from a local
//! HTTP server (verified), a plugin that outlives the binary it was made from, `helm-plugin
//! install` copying the binary, and the refusal to break a Helm 3 that shares the folder.
//! Every external command runs with a time limit.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{bin, clean, k8s_json, kubeconfig_file, root, tool};

/// Runs `cmd`, killing it after `limit`; a timeout is a failure.
fn bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let (mut so, mut se) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: out_t.join().expect("stdout"), stderr: err_t.join().expect("stderr") }
}

const LIMIT: Duration = Duration::from_secs(180);

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A folder holding only `helm` (a link to the given Helm), to put first on PATH.
fn helm_on_path(dir: &Path, which: &str) -> PathBuf {
    let d = dir.join("helm-bin");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::os::unix::fs::symlink(tool(which), d.join("helm")).expect("link");
    d
}

fn path_with(first: &Path) -> String {
    format!("{}:/usr/bin:/bin", first.display())
}

/// Helm with its own config, data and cache folders under `home`.
fn helm(which: &str, home: &Path) -> Command {
    let mut c = Command::new(tool(which));
    helm_homes(&mut c, home).current_dir(root());
    c
}

/// `c` with a clean environment whose Helm config, data, cache and state folders are under `home`.
fn helm_homes<'c>(c: &'c mut Command, home: &Path) -> &'c mut Command {
    clean(c)
        .env_remove("HELM_PLUGINS")
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("XDG_STATE_HOME", home.join("state"))
}

/// A throwaway signing key in its own GNUPGHOME; returns (secret keyring, public keyring).
fn throwaway_key(dir: &Path) -> (PathBuf, PathBuf) {
    throwaway_key_of(dir, "skyhelm test <test@example.invalid>")
}

/// [`throwaway_key`] for the user id `uid`, in `dir`/gnupg.
fn throwaway_key_of(dir: &Path, uid: &str) -> (PathBuf, PathBuf) {
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("chmod");
    let gpg = |args: &[&str], to: Option<&Path>| {
        let out = bounded(Command::new("gpg").env("GNUPGHOME", &home).args(["--batch", "--yes"]).args(args), LIMIT);
        let text = ok(&out, "gpg");
        if let Some(p) = to {
            std::fs::write(p, &out.stdout).expect("keyring");
        }
        text
    };
    gpg(&["--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"], None);
    let (sec, public) = (dir.join("secring.gpg"), dir.join("pubring.gpg"));
    gpg(&["--export-secret-keys"], Some(&sec));
    gpg(&["--export"], Some(&public));
    // The agent gpg started for this GNUPGHOME does not outlive the test.
    let _ = Command::new("gpgconf").env("GNUPGHOME", &home).args(["--kill", "all"]).status();
    (sec, public)
}

/// Serves the files of `dir` on 127.0.0.1 (GET only) and records each path asked for.
fn file_server(dir: PathBuf) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let a = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (dir, a) = (dir.clone(), a.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim_end().is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                a.lock().expect("lock").push(path.clone());
                let name = path.trim_start_matches('/');
                let mut stream = stream;
                match std::fs::read(dir.join(name)).ok().filter(|_| !name.contains('/') && !name.is_empty()) {
                    Some(body) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    None => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            });
        }
    });
    (port, asked)
}

fn kubeconfig_arg() -> String {
    format!("--post-renderer-args=--skypilot-kubeconfig={}", root().join("examples/kubeconfig").display())
}

/// The Deployment of a render mounts the kubeconfig Secret (checked with Kubernetes' reader).
fn assert_mounted(rendered: &str) {
    let docs = k8s_json(rendered);
    let d = docs.iter().find(|d| d["kind"] == "Deployment").expect("a Deployment");
    let volumes = d["spec"]["template"]["spec"]["volumes"].as_array().expect("volumes");
    assert!(
        volumes.iter().any(|v| v["name"] == "kube-config" && v["secret"]["secretName"] == "kube-credentials"),
        "not post-rendered by skyhelm:\n{rendered}"
    );
}

fn template_through_plugin(home: &Path) -> String {
    let out = bounded(
        helm("helm4", home)
            .args(["template", "sky", "charts/skypilot", "-n", "skypilot", "--post-renderer", "skyhelm"])
            .arg(kubeconfig_arg()),
        LIMIT,
    );
    ok(&out, "helm template through the plugin")
}

/// README's Install section, run as written: the `sh` block that builds the signed package,
/// verifies it with `helm plugin verify` and installs it, with `skyhelm` and Helm 4 as `helm` on
/// PATH, a throwaway "Release Key" in GNUPGHOME and Helm's folders in a temporary folder. The
/// installed plugin is signed and post-renders.
#[test]
fn the_readmes_signed_package_commands_work_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let block = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .find(|b| b.contains("helm plugin verify"))
        .expect("README has an sh block with `helm plugin verify`")
        .to_string();
    let tmp = tempfile::tempdir().expect("tmp");
    let t = tmp.path();
    throwaway_key_of(t, "Release Key <release@example.invalid>");
    let tools = helm_on_path(t, "helm4");
    std::os::unix::fs::symlink(bin(), tools.join("skyhelm")).expect("link skyhelm");
    let work = t.join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let h = t.join("h");
    let mut sh = Command::new("bash");
    helm_homes(&mut sh, &h)
        .env("GNUPGHOME", t.join("gnupg"))
        .env("PATH", path_with(&tools))
        .current_dir(&work)
        .args(["-euo", "pipefail", "-c", &block]);
    let out = bounded(&mut sh, LIMIT);
    let _ = Command::new("gpgconf").env("GNUPGHOME", t.join("gnupg")).args(["--kill", "all"]).status();
    let said = ok(&out, &format!("README's block:\n{block}"));
    assert!(said.contains("Release Key") && said.contains("Installed plugin: skyhelm"), "{said}");
    let list = ok(&bounded(helm("helm4", &h).args(["plugin", "list"]), LIMIT), "plugin list");
    let row = list.lines().find(|l| l.starts_with("skyhelm")).unwrap_or_default().to_string();
    assert!(row.contains("postrenderer/v1") && row.contains("signed"), "{list}");
    assert_mounted(&template_through_plugin(&h));
}

#[test]
fn signed_package_installs_with_helm4_from_a_file_and_a_url_and_outlives_the_binary() {
    let tmp = tempfile::tempdir().expect("tmp");
    let t = tmp.path();
    let (secring, pubring) = throwaway_key(t);
    // The binary the package is made from lives in a folder with a space, and goes away.
    let dist = t.join("dist dir");
    std::fs::create_dir_all(&dist).expect("mkdir");
    let copy = dist.join("skyhelm");
    std::fs::copy(bin(), &copy).expect("copy binary");
    let out_dir = t.join("out");
    let out = bounded(
        clean(&mut Command::new(&copy))
            .env("PATH", path_with(&helm_on_path(t, "helm4")))
            .args(["helm-plugin", "package", "--sign", "--key", "skyhelm test", "--keyring"])
            .arg(&secring)
            .arg("--out")
            .arg(&out_dir),
        LIMIT,
    );
    let said = ok(&out, "skyhelm helm-plugin package");
    let name = format!("skyhelm-{}.tgz", env!("CARGO_PKG_VERSION"));
    let (tgz, prov) = (out_dir.join(&name), out_dir.join(format!("{name}.prov")));
    assert!(said.contains(&format!("wrote {}", tgz.display())) && tgz.is_file() && prov.is_file(), "{said}");
    let prov_text = std::fs::read_to_string(&prov).expect("prov");
    assert!(prov_text.contains("-----BEGIN PGP SIGNED MESSAGE-----") && prov_text.contains(&name), "{prov_text}");
    std::fs::remove_dir_all(&dist).expect("remove the original binary");

    // From the file: verified against the public keyring.
    let h1 = t.join("h1");
    let out = bounded(helm("helm4", &h1).args(["plugin", "install"]).arg(&tgz).arg("--keyring").arg(&pubring), LIMIT);
    let said = ok(&out, "helm plugin install FILE");
    assert!(said.contains("Plugin Hash Verified") && said.contains("Installed plugin: skyhelm"), "{said}");
    let list = ok(&bounded(helm("helm4", &h1).args(["plugin", "list"]), LIMIT), "plugin list");
    let row = list.lines().find(|l| l.starts_with("skyhelm")).unwrap_or_default().to_string();
    assert!(
        row.contains("postrenderer/v1") && row.contains("signed") && row.contains(env!("CARGO_PKG_VERSION")),
        "{list}"
    );
    assert!(h1.join("data/plugins/skyhelm/bin/skyhelm").is_file());
    assert_mounted(&template_through_plugin(&h1));
    let out = bounded(
        helm("helm4", &h1)
            .args([
                "install",
                "sky",
                "charts/skypilot",
                "-n",
                "skypilot",
                "--dry-run=client",
                "--post-renderer",
                "skyhelm",
            ])
            .arg(kubeconfig_arg()),
        LIMIT,
    );
    assert!(ok(&out, "helm install --dry-run=client").contains("kube-credentials"));

    // From a URL on a local HTTP server: Helm fetches the package and its .prov.
    let (port, asked) = file_server(out_dir.clone());
    let h2 = t.join("h2");
    let url = format!("http://127.0.0.1:{port}/{name}");
    let out = bounded(helm("helm4", &h2).args(["plugin", "install", &url, "--keyring"]).arg(&pubring), LIMIT);
    let said = ok(&out, "helm plugin install URL");
    assert!(said.contains("Plugin Hash Verified") && said.contains("Installed plugin: skyhelm"), "{said}");
    let asked = asked.lock().expect("lock").clone();
    assert!(asked.contains(&format!("/{name}")) && asked.contains(&format!("/{name}.prov")), "{asked:?}");
    assert_mounted(&template_through_plugin(&h2));

    // A package that does not match its signature is refused, and nothing is installed.
    let bad = t.join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    let mut bytes = std::fs::read(&tgz).expect("tgz");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(bad.join(&name), bytes).expect("write");
    std::fs::copy(&prov, bad.join(format!("{name}.prov"))).expect("copy");
    let h3 = t.join("h3");
    let out = bounded(
        helm("helm4", &h3).args(["plugin", "install"]).arg(bad.join(&name)).arg("--keyring").arg(&pubring),
        LIMIT,
    );
    assert!(!out.status.success(), "a tampered package was installed");
    assert!(!h3.join("data/plugins/skyhelm").exists());
}

/// Helm 4 hides the plugin's stderr; `skyhelm last` shows what went wrong.
#[test]
fn skyhelm_last_explains_a_failure_helm4_hides() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let plugins = home.join("data/plugins");
    let out = clean(&mut Command::new(bin()))
        .env("PATH", "/usr/bin:/bin")
        .args(["helm-plugin", "install", "--dir"])
        .arg(&plugins)
        .output()
        .expect("install");
    ok(&out, "helm-plugin install");
    let out = bounded(
        helm("helm4", &home).args([
            "template",
            "sky",
            "charts/skypilot",
            "--post-renderer",
            "skyhelm",
            "--post-renderer-args=--container=nope",
        ]),
        LIMIT,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exited with error") && !stderr.contains("nope"), "Helm 4 now shows the message: {stderr}");
    let last =
        clean(&mut Command::new(bin())).env("XDG_STATE_HOME", home.join("state")).arg("last").output().expect("last");
    assert_eq!(last.status.code(), Some(1), "skyhelm last exits 1 after a failed run");
    let text = String::from_utf8_lossy(&last.stdout);
    assert!(
        text.contains("post-render failed at ") && text.contains("no Deployment has a container named `nope`"),
        "{text}"
    );
}

/// An argument post-render refuses before it runs (a Helm global flag such as `--kube-context`
/// in `--post-renderer-args`, a typo, `--strict=1`) is a failed run too: `skyhelm last` must not
/// go on showing the previous run as `ok` while Helm 4 only says "exited with error".
#[test]
fn skyhelm_last_records_a_refused_command_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let plugins = home.join("data/plugins");
    let out = clean(&mut Command::new(bin()))
        .env("PATH", "/usr/bin:/bin")
        .args(["helm-plugin", "install", "--dir"])
        .arg(&plugins)
        .output()
        .expect("install");
    ok(&out, "helm-plugin install");
    let template = |arg: &str| {
        bounded(
            helm("helm4", &home).args(["template", "sky", "charts/skypilot", "--post-renderer", "skyhelm", arg]),
            LIMIT,
        )
    };
    let last = || {
        let out = clean(&mut Command::new(bin()))
            .env("XDG_STATE_HOME", home.join("state"))
            .arg("last")
            .output()
            .expect("last");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let kc = format!("--post-renderer-args=--skypilot-kubeconfig={}", kubeconfig_file(tmp.path()).display());
    ok(&template(&kc), "helm4 template");
    let (code, text) = last();
    assert!(code == Some(0) && text.contains("post-render ok at "), "{code:?} {text}");
    for (arg, named) in [
        ("--post-renderer-args=--kube-context=prod", "--kube-context"),
        ("--post-renderer-args=--strict=1", "--strict"),
    ] {
        let out = template(arg);
        assert!(!out.status.success(), "{arg}");
        let (code, text) = last();
        assert_eq!(code, Some(1), "{arg}: {text}");
        assert!(
            text.contains("post-render failed at ") && !text.contains("post-render ok") && text.contains(named),
            "{arg}: skyhelm last shows:\n{text}"
        );
    }
}

fn plugin_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn helm_plugin_install_copies_the_binary_and_a_second_install_replaces_the_first() {
    let tmp = tempfile::tempdir().expect("tmp");
    let t = tmp.path();
    let moved = t.join("a b $HOME");
    std::fs::create_dir_all(&moved).expect("mkdir");
    let copy = moved.join("skyhelm");
    std::fs::copy(bin(), &copy).expect("copy");
    let (first, second) = (t.join("plug ins"), t.join("second"));
    let install = || {
        clean(&mut Command::new(&copy))
            .env("PATH", "/usr/bin:/bin")
            .env("HELM_PLUGINS", format!("{}:{}", first.display(), second.display()))
            .args(["helm-plugin", "install"])
            .output()
            .expect("install")
    };
    let said = ok(&install(), "install");
    assert!(said.starts_with("installed Helm 4 post-renderer plugin `skyhelm`"), "{said}");
    let manifest = std::fs::read_to_string(first.join("skyhelm/plugin.yaml")).expect("plugin.yaml in the first folder");
    assert!(
        manifest.contains("command: \"${HELM_PLUGIN_DIR}/bin/skyhelm\"") && !manifest.contains("a b"),
        "{manifest}"
    );
    assert!(!second.exists());
    let said = ok(&install(), "second install");
    assert!(said.starts_with(&format!("replaced the skyhelm plugin {}", env!("CARGO_PKG_VERSION"))), "{said}");
    assert_eq!(plugin_files(&first), vec!["skyhelm"], "leftovers beside the plugin");
    assert_eq!(plugin_files(&first.join("skyhelm")), vec!["bin", "plugin.yaml"]);

    // The binary moves away; Helm 4 runs the plugin's own copy.
    std::fs::remove_dir_all(&moved).expect("remove");
    let home = t.join("home");
    let out = bounded(
        helm("helm4", &home)
            .env("HELM_PLUGINS", &first)
            .args(["template", "sky", "charts/skypilot", "-n", "skypilot", "--post-renderer", "skyhelm"])
            .arg(kubeconfig_arg()),
        LIMIT,
    );
    assert_mounted(&ok(&out, "helm template"));
    let list = ok(&bounded(helm("helm4", &home).env("HELM_PLUGINS", &first).args(["plugin", "list"]), LIMIT), "list");
    assert_eq!(list.lines().filter(|l| l.starts_with("skyhelm")).count(), 1, "{list}");

    // A folder named skyhelm that holds another plugin is left alone.
    let other = t.join("other");
    std::fs::create_dir_all(other.join("skyhelm")).expect("mkdir");
    std::fs::write(other.join("skyhelm/plugin.yaml"), "name: not-skyhelm\nversion: 1.0.0\n").expect("write");
    let out = clean(&mut Command::new(bin()))
        .env("PATH", "/usr/bin:/bin")
        .args(["helm-plugin", "install", "--dir"])
        .arg(&other)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not hold the skyhelm plugin"));
    assert_eq!(
        std::fs::read_to_string(other.join("skyhelm/plugin.yaml")).expect("kept"),
        "name: not-skyhelm\nversion: 1.0.0\n"
    );
}

/// A Helm 3 plugin that Helm 3 loads.
fn helm3_plugin(dir: &Path) {
    let d = dir.join("hello");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(
        d.join("plugin.yaml"),
        "name: hello\nversion: 0.1.0\nusage: hello\ndescription: says hello\ncommand: \"echo hello\"\n",
    )
    .expect("write");
}

fn helm3_loads(home: &Path, env: &[(&str, &Path)]) -> String {
    let mut c = helm("helm3", home);
    for (k, v) in env {
        c.env(k, v);
    }
    ok(&bounded(c.args(["plugin", "list"]), LIMIT), "helm3 plugin list")
}

#[test]
fn helm_plugin_install_refuses_a_folder_helm3_reads() {
    let tmp = tempfile::tempdir().expect("tmp");
    let t = tmp.path();
    let path = path_with(&helm_on_path(t, "helm3"));
    let home = t.join("home");
    let shared = t.join("shared");
    helm3_plugin(&shared);
    let skyhelm = |args: &[&str], env: &[(&str, &Path)]| {
        let mut c = Command::new(bin());
        clean(&mut c)
            .env("PATH", &path)
            .env_remove("HELM_PLUGINS")
            .env("HELM_DATA_HOME", home.join("data"))
            .args(["helm-plugin", "install"])
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        bounded(&mut c, LIMIT)
    };
    // Through HELM_PLUGINS, and through HELM_DATA_HOME (found with `helm env`).
    helm3_plugin(&home.join("data/plugins"));
    for env in [vec![("HELM_PLUGINS", shared.as_path())], vec![]] {
        let out = skyhelm(&[], &env);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Helm 3 (")
                && err.contains("v3.")
                && err.contains("--dir")
                && err.contains("--force")
                && err.contains("Nothing was written"),
            "{err}"
        );
        let target = env.first().map_or(home.join("data/plugins"), |(_, p)| p.to_path_buf());
        assert!(!target.join("skyhelm").exists());
        assert!(helm3_loads(&home, &env).contains("hello"), "Helm 3 cannot load its plugins");
    }
    // A folder only Helm 4 reads is fine, and Helm 3 still loads its own.
    let h4 = t.join("helm4 plugins");
    let out = skyhelm(&["--dir", h4.to_str().expect("path")], &[("HELM_PLUGINS", shared.as_path())]);
    ok(&out, "install --dir");
    assert!(h4.join("skyhelm/bin/skyhelm").is_file());
    assert!(helm3_loads(&home, &[("HELM_PLUGINS", shared.as_path())]).contains("hello"));
    // --force does what it says, and shows why the refusal exists.
    ok(&skyhelm(&["--force"], &[("HELM_PLUGINS", shared.as_path())]), "install --force");
    let broken = bounded(helm("helm3", &home).env("HELM_PLUGINS", &shared).args(["plugin", "list"]), LIMIT);
    assert!(!broken.status.success() || !String::from_utf8_lossy(&broken.stdout).contains("hello"));
}

#[test]
fn package_needs_helm4_and_says_so() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = clean(&mut Command::new(bin()))
        .env("PATH", path_with(&helm_on_path(tmp.path(), "helm3")))
        .args(["helm-plugin", "package", "--out"])
        .arg(tmp.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("runs `helm plugin package` of Helm 4, and the helm on PATH is v3."), "{err}");
    let out = clean(&mut Command::new(bin())).args(["helm-plugin", "package", "--sign"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "--sign without --key/--keyring is a usage error");
}
