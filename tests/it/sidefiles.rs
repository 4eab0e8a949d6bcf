//! `--report-file` / `--diff-file` (atomic, unique temporary files, private when new, modes of
//! existing files kept) and the last-run report `skyhelm last` prints.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::util::{API_DEPLOYMENT, bin, clean, kubeconfig_file, last_run_file, run_with_stdin};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

fn post_render(args: &[&str], state: &Path, stdin: &str) -> Output {
    run_with_stdin(
        clean(&mut Command::new(bin())).env("XDG_STATE_HOME", state).arg("post-render").args(args),
        stdin.as_bytes(),
    )
}

/// [`post_render`] of the API Deployment run in `dir`, after a pause: file times can be as coarse
/// as a clock tick, so runs one after another keep their order.
fn post_render_in(dir: &Path, args: &[&str], state: &Path) -> Output {
    std::thread::sleep(std::time::Duration::from_millis(30));
    run_with_stdin(
        clean(&mut Command::new(bin())).env("XDG_STATE_HOME", state).current_dir(dir).arg("post-render").args(args),
        API_DEPLOYMENT.as_bytes(),
    )
}

#[test]
fn thirty_concurrent_runs_share_one_report_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("reports here");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (report, diff) = (dir.join("report.txt"), dir.join("diff.txt"));
    let args = [format!("--report-file={}", report.display()), format!("--diff-file={}", diff.display())];
    let children: Vec<_> = (0..30)
        .map(|_| {
            let (args, state) = (args.clone(), tmp.path().join("state"));
            std::thread::spawn(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                post_render(&a, &state, API_DEPLOYMENT)
            })
        })
        .collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.join().expect("thread")).collect();
    for o in &outs {
        assert!(o.status.success(), "a concurrent run failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(text.starts_with("changed Deployment sky/sky-api-server") && text.ends_with('\n'), "{text}");
    assert!(std::fs::read_to_string(&diff).expect("diff").contains("+        - name: kube-config"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["diff.txt", "report.txt"], "temporary files left behind");
    assert_eq!((mode(&report), mode(&diff)), (0o600, 0o600));
}

#[test]
fn an_existing_side_file_keeps_its_mode_and_a_symlink_is_replaced_not_followed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let report = tmp.path().join("report.txt");
    std::fs::write(&report, "old\n").expect("write");
    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let arg = format!("--report-file={}", report.display());
    assert!(post_render(&[&arg], &state, API_DEPLOYMENT).status.success());
    assert_eq!(mode(&report), 0o644);
    assert!(std::fs::read_to_string(&report).expect("read").starts_with("changed "));

    // A link someone placed at the report's path: the link is replaced, its target untouched.
    let target = tmp.path().join("precious");
    std::fs::write(&target, "keep me\n").expect("write");
    let link = tmp.path().join("link.txt");
    std::os::unix::fs::symlink(&target, &link).expect("link");
    let arg = format!("--report-file={}", link.display());
    assert!(post_render(&[&arg], &state, API_DEPLOYMENT).status.success());
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep me\n");
    assert!(!std::fs::symlink_metadata(&link).expect("meta").file_type().is_symlink());
    assert_eq!(mode(&link), 0o600);

    // A folder that does not exist: a clear error naming it, nothing on stdout.
    let arg = format!("--report-file={}", tmp.path().join("missing/report.txt").display());
    let out = post_render(&[&arg], &state, API_DEPLOYMENT);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing/report.txt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn last(env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(bin());
    clean(&mut c).env_remove("XDG_STATE_HOME").arg("last");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("last")
}

#[test]
fn skyhelm_last_prints_the_last_runs_report() {
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let out = last(&[("XDG_STATE_HOME", &state)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no post-render run recorded yet"));

    let kc = kubeconfig_file(tmp.path());
    let arg = format!("--skypilot-kubeconfig={}", kc.display());
    assert!(post_render(&[&arg], &state, API_DEPLOYMENT).status.success());
    let file = last_run_file(&state);
    assert_eq!((mode(&file), mode(&state.join("skyhelm"))), (0o600, 0o700));
    let out = last(&[("XDG_STATE_HOME", &state)]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.starts_with(&format!("skyhelm {}", env!("CARGO_PKG_VERSION"))) && text.contains(" post-render ok at "),
        "{text}"
    );
    assert!(text.contains("changed Deployment sky/sky-api-server [kubeconfig-mount]"), "{text}");
    assert!(!text.contains("placeholder"), "the kubeconfig's token reached the report: {text}");

    // A failed run replaces it, and its error tells where to look.
    let out = post_render(&["--container", "nope"], &state, API_DEPLOYMENT);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("this report is kept in {}: `skyhelm last` prints it", file.display())), "{err}");
    let out = last(&[("XDG_STATE_HOME", &state)]);
    assert_eq!(out.status.code(), Some(1), "skyhelm last exits 1 when the last run failed");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("post-render failed at") && text.contains("no Deployment has a container named `nope`"),
        "{text}"
    );
    assert!(!text.contains("changed Deployment"), "{text}");

    // Without XDG_STATE_HOME (or with a relative one): ~/.local/state.
    let home = tmp.path().join("home");
    let out = run_with_stdin(
        clean(&mut Command::new(bin())).env("XDG_STATE_HOME", "relative").env("HOME", &home).arg("post-render"),
        API_DEPLOYMENT.as_bytes(),
    );
    assert!(out.status.success());
    assert!(last_run_file(&home.join(".local/state")).is_file());
    let out = last(&[("HOME", &home)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("post-render ok"));

    // A state folder that cannot be written: a warning, the run still succeeds.
    let blocked = tmp.path().join("blocked");
    std::fs::write(&blocked, "a file, not a folder").expect("write");
    let out = post_render(&[], &blocked, API_DEPLOYMENT);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: cannot keep this report in"));
}

/// `--report-file=/dev/stderr` (Helm 3 shows the post-renderer's stderr on failure): the report
/// goes to stderr and the device link stays.
#[test]
fn a_report_file_on_a_device_is_written_to_not_replaced() {
    let tmp = tempfile::tempdir().expect("tmp");
    let before = std::fs::symlink_metadata("/dev/stderr").expect("/dev/stderr").file_type().is_symlink();
    let out =
        post_render(&["--report-file=/dev/stderr", "--container", "nope"], &tmp.path().join("state"), API_DEPLOYMENT);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: no Deployment has a container named `nope`"), "{err}");
    assert_eq!(std::fs::symlink_metadata("/dev/stderr").expect("/dev/stderr").file_type().is_symlink(), before);
    // stderr redirected to a regular file: that file gets the report, the link stays.
    let log = tmp.path().join("stderr.log");
    let input = tmp.path().join("input.yaml");
    std::fs::write(&input, API_DEPLOYMENT).expect("input");
    let status = clean(&mut Command::new(bin()))
        .env("XDG_STATE_HOME", tmp.path().join("state"))
        .args(["post-render", "--report-file=/dev/stderr", "--container", "nope"])
        .stdin(std::fs::File::open(&input).expect("stdin"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .status()
        .expect("run");
    assert_eq!(status.code(), Some(1));
    assert!(std::fs::read_to_string(&log).expect("log").contains("no Deployment has a container named `nope`"));
    assert_eq!(std::fs::symlink_metadata("/dev/stderr").expect("/dev/stderr").file_type().is_symlink(), before);
}

/// A run that never writes its report (killed here; a stack overflow aborts the same way)
/// leaves "running since … (pid N)", never the previous run's "ok": `skyhelm last` exits 1 and
/// says the process is gone.
#[test]
fn a_killed_run_leaves_running_not_the_previous_ok() {
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    assert!(post_render(&[], &state, API_DEPLOYMENT).status.success());
    assert_eq!(last(&[("XDG_STATE_HOME", &state)]).status.code(), Some(0));
    // stdin stays open: the run waits in its read, after marking itself running.
    let mut child = clean(&mut Command::new(bin()))
        .env("XDG_STATE_HOME", &state)
        .arg("post-render")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // The report itself, not the temporary file it is written through (which holds the same
    // text just before the rename: killing the run then would leave the previous report).
    let running = || {
        std::fs::read_dir(state.join("skyhelm")).expect("state").any(|e| {
            let path = e.expect("entry").path();
            !path.to_string_lossy().ends_with(".skyhelm-tmp")
                && std::fs::read_to_string(path).is_ok_and(|t| t.contains(" post-render running since "))
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !running() {
        assert!(std::time::Instant::now() < deadline, "the run never marked itself running");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id();
    child.kill().expect("kill");
    child.wait().expect("wait");
    let out = last(&[("XDG_STATE_HOME", &state)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(" post-render running since ") && text.contains(&format!("(pid {pid})")), "{text}");
    assert!(!text.contains("post-render ok"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("process {pid} is gone (killed or aborted)")), "{err}");
}

/// One report per working folder (Helm passes no release name): runs from two folders keep
/// two reports; `skyhelm last` shows the newest and exits by its status; `--all` lists both,
/// newest first, and exits 1 while either is not ok.
#[test]
fn each_working_folder_keeps_its_report_and_last_shows_the_newest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let (a, b) = (tmp.path().join("release a"), tmp.path().join("release b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let run_in = |dir: &Path, args: &[&str]| post_render_in(dir, args, &state);
    let last_all = |all: bool| {
        let mut c = Command::new(bin());
        clean(&mut c).env("XDG_STATE_HOME", &state).arg("last");
        if all {
            c.arg("--all");
        }
        let out = c.output().expect("last");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    assert!(run_in(&a, &[]).status.success());
    assert_eq!(run_in(&b, &["--container", "nope"]).status.code(), Some(1));
    assert_eq!(std::fs::read_dir(state.join("skyhelm")).expect("dir").count(), 2, "one report per folder");
    let (code, text) = last_all(false);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("post-render failed at ") && text.contains(&format!("(in {})", b.display())), "{text}");
    let (code, text) = last_all(true);
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(" post-render failed at ") && lines[0].ends_with(&format!("(in {})", b.display())),
        "{text}"
    );
    assert!(lines[1].contains(" post-render ok at ") && lines[1].ends_with(&format!("(in {})", a.display())), "{text}");
    // Folder a fails now: it is the newest; b's report stays.
    assert_eq!(run_in(&a, &["--container", "nope"]).status.code(), Some(1));
    assert!(run_in(&b, &[]).status.success());
    let (code, text) = last_all(false);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("(in {})", b.display())), "{text}");
    let (code, text) = last_all(true);
    assert_eq!(code, Some(1), "a's run failed: {text}");
    assert!(text.lines().next().is_some_and(|l| l.contains(" ok at ")), "{text}");
    assert!(run_in(&a, &[]).status.success());
    assert_eq!(last_all(true).0, Some(0));
}

/// A `--report-file` or `--diff-file` naming a file the run reads (the kubeconfig, directly or
/// through a link to it, the --config file, diff's input) is refused before anything is
/// written: the report replaced the only local copy of the credentials before.
#[test]
fn a_side_file_naming_an_input_is_refused_and_the_input_kept() {
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let kc = kubeconfig_file(tmp.path());
    let kc_text = std::fs::read_to_string(&kc).expect("kubeconfig");
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&kc, &link).expect("symlink");
    let config = tmp.path().join("skyhelm.yaml");
    std::fs::write(&config, "secret-name: kube-credentials\n").expect("config");
    let input = tmp.path().join("in.yaml");
    std::fs::write(&input, API_DEPLOYMENT).expect("input");
    let (k, l, c, i) =
        (kc.to_str().expect("p"), link.to_str().expect("p"), config.to_str().expect("p"), input.to_str().expect("p"));
    for (args, flag, what) in [
        (vec!["post-render", "--skypilot-kubeconfig", k, "--report-file", k], "--report-file", "the kubeconfig"),
        (vec!["post-render", "--skypilot-kubeconfig", l, "--diff-file", k], "--diff-file", "the kubeconfig"),
        (vec!["post-render", "--config", c, "--report-file", c], "--report-file", "the --config file"),
        (vec!["diff", "--kubeconfig", k, "--diff-file", i, i], "--diff-file", "its input"),
    ] {
        let out = run_with_stdin(
            clean(&mut Command::new(bin())).env("XDG_STATE_HOME", &state).args(&args),
            API_DEPLOYMENT.as_bytes(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            err.contains(&format!("{flag} ")) && err.contains(&format!("is the file skyhelm reads as {what}")),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&kc).expect("kubeconfig"), kc_text, "{args:?}");
        assert_eq!(std::fs::read_to_string(&config).expect("config"), "secret-name: kube-credentials\n", "{args:?}");
        assert_eq!(std::fs::read_to_string(&input).expect("input"), API_DEPLOYMENT, "{args:?}");
    }
    // A side file that is a link to the kubeconfig is replaced, not followed: allowed.
    let out = run_with_stdin(
        clean(&mut Command::new(bin())).env("XDG_STATE_HOME", &state).args([
            "post-render",
            "--skypilot-kubeconfig",
            k,
            "--report-file",
            l,
        ]),
        API_DEPLOYMENT.as_bytes(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&kc).expect("kubeconfig"), kc_text);
}

/// A post-render `--report-file` or `--diff-file` leading to its own stdout (the manifests
/// Helm reads: a pipe, or the file behind `>`) or stdin is refused before anything is written:
/// before, `--report-file /dev/stdout` put the report in front of the manifests (Helm then
/// failed to parse them, or worse), and `/dev/stdin` replaced the `/dev/stdin` link or appended
/// to the input file. A terminal or /dev/null still takes it; diff may write its report to its
/// own stdout (tested above), not to its stdin.
#[test]
fn a_side_file_leading_to_the_runs_own_stdin_or_stdout_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let input = tmp.path().join("in.yaml");
    std::fs::write(&input, API_DEPLOYMENT).expect("input");
    let links = tmp.path().join("links");
    std::fs::create_dir_all(&links).expect("mkdir");
    std::os::unix::fs::symlink("/proc/self/fd/0", links.join("stdin")).expect("symlink");
    let stdin_link = links.join("stdin");
    let stdin_link = stdin_link.to_str().expect("p");
    let refused = |out: &Output, args: &[&str], flag: &str, what: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        assert!(
            err.contains(&format!("error: {flag} ")) && err.contains(&format!("leads to skyhelm's {what}")),
            "{args:?}: {err}"
        );
    };
    // Stdout a pipe (as Helm runs post-renderers), stdin a pipe.
    for (flag, path, what) in [
        ("--report-file", "/dev/stdout", "standard output"),
        ("--diff-file", "/proc/self/fd/1", "standard output"),
        ("--report-file", "/dev/fd/0", "standard input"),
        ("--diff-file", stdin_link, "standard input"),
    ] {
        let args = ["post-render", flag, path];
        let out = run_with_stdin(
            clean(&mut Command::new(bin())).env("XDG_STATE_HOME", &state).args(args),
            API_DEPLOYMENT.as_bytes(),
        );
        refused(&out, &args, flag, what);
    }
    // Stdout a file (`>out.yaml`), stdin a file (`<in.yaml`): neither gets the report.
    let output = tmp.path().join("out.yaml");
    for (path, what) in [("/dev/stdout", "standard output"), (stdin_link, "standard input")] {
        let out = clean(&mut Command::new(bin()))
            .env("XDG_STATE_HOME", &state)
            .args(["post-render", "--report-file", path])
            .stdin(std::fs::File::open(&input).expect("stdin"))
            .stdout(std::fs::File::create(&output).expect("out"))
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run");
        refused(&Output { stdout: std::fs::read(&output).expect("out"), ..out }, &[path], "--report-file", what);
        assert_eq!(std::fs::read_to_string(&input).expect("input"), API_DEPLOYMENT);
        assert!(std::fs::symlink_metadata(links.join("stdin")).expect("link").file_type().is_symlink());
    }
    // diff reading the manifests on stdin: not into stdin either.
    let args = ["diff", "--diff-file", stdin_link];
    let out = run_with_stdin(
        clean(&mut Command::new(bin())).env("XDG_STATE_HOME", &state).args(args),
        API_DEPLOYMENT.as_bytes(),
    );
    refused(&out, &args, "--diff-file", "standard input");
    // /dev/null as stdout takes the report: nothing to mix it into.
    let status = clean(&mut Command::new(bin()))
        .env("XDG_STATE_HOME", &state)
        .args(["post-render", "--report-file", "/dev/stdout"])
        .stdin(std::fs::File::open(&input).expect("stdin"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run");
    assert!(status.success());
}

/// `skyhelm last` run in a folder answers for that folder: a failed run in `a` followed by a
/// successful one in `b` (a CI job, another terminal) is still reported, exit 1, from `a`
/// (before, `a` got `b`'s "ok" and exit 0, although the failure's message said `skyhelm last`
/// prints its report); from `b` it is `b`'s; a folder with no report of its own gets the newest.
#[test]
fn last_in_a_folder_prints_that_folders_report_else_the_newest() {
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    for d in [&a, &b, &c] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let run = |dir: &Path, args: &[&str]| post_render_in(dir, args, &state);
    let last_in = |dir: &Path| {
        let out = clean(&mut Command::new(bin()))
            .env("XDG_STATE_HOME", &state)
            .current_dir(dir)
            .arg("last")
            .output()
            .expect("last");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let failed = run(&a, &["--container", "nope"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("`skyhelm last` prints it"));
    assert!(run(&b, &[]).status.success());
    let (code, text) = last_in(&a);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(" post-render failed at ") && text.contains(&format!("(in {})", a.display())), "{text}");
    assert!(text.contains("nope"), "the failure itself: {text}");
    let (code, text) = last_in(&b);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(" post-render ok at ") && text.contains(&format!("(in {})", b.display())), "{text}");
    let (code, text) = last_in(&c);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("(in {})", b.display())), "no report for c: the newest, b's: {text}");
}

/// `--report-file /proc/self/cwd/FILE` over a longer file: replaced whole (atomically, mode
/// kept), no old tail left; the same for a plain path through a /proc/self/cwd folder.
#[test]
fn a_report_file_under_proc_self_is_replaced_not_overwritten_in_place() {
    let tmp = tempfile::tempdir().expect("tmp");
    let report = tmp.path().join("r.txt");
    std::fs::write(&report, "x".repeat(10_000)).expect("write");
    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let out = run_with_stdin(
        clean(&mut Command::new(bin()))
            .env("XDG_STATE_HOME", tmp.path().join("state"))
            .current_dir(tmp.path())
            .args(["post-render", "--report-file=/proc/self/cwd/r.txt"]),
        API_DEPLOYMENT.as_bytes(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(text.starts_with("changed Deployment sky/sky-api-server") && !text.contains("xxxx"), "{text}");
    assert_eq!(mode(&report), 0o640);
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".skyhelm-tmp")), "{names:?}");
}

/// `--report-file /dev/stderr` with stderr redirected to a file (`2>file`, `2>>file`), and
/// `/dev/fd/3` with `3>>file`: the report lands where the stream is, before the messages that
/// follow on stderr, and an appended file keeps what it had.
#[test]
fn a_report_file_naming_a_redirected_stream_is_written_where_the_stream_is() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("input.yaml");
    std::fs::write(&input, API_DEPLOYMENT).expect("input");
    for (append, args) in [(false, &[][..]), (true, &[][..]), (false, &["--container", "nope"][..])] {
        let log = tmp.path().join("stderr.log");
        std::fs::write(&log, "earlier line\n").expect("log");
        let stderr =
            if append { std::fs::OpenOptions::new().append(true).open(&log) } else { std::fs::File::create(&log) };
        let out = clean(&mut Command::new(bin()))
            .env("XDG_STATE_HOME", tmp.path().join("state"))
            .args(["post-render", "--report-file=/dev/stderr"])
            .args(args)
            .stdin(std::fs::File::open(&input).expect("stdin"))
            .stdout(std::process::Stdio::null())
            .stderr(stderr.expect("log"))
            .status()
            .expect("run");
        let text = std::fs::read_to_string(&log).expect("log");
        let (first, later) = if args.is_empty() {
            assert_eq!(out.code(), Some(0), "{text}");
            ("changed Deployment sky/sky-api-server", "\nskyhelm: changed Deployment sky/sky-api-server")
        } else {
            assert_eq!(out.code(), Some(1), "{text}");
            ("error: no Deployment has a container named `nope`", "\nskyhelm: error: no Deployment has a container")
        };
        let text = if append {
            text.strip_prefix("earlier line\n").unwrap_or_else(|| panic!("2>> lost what the file had: {text}"))
        } else {
            &text
        };
        assert!(text.starts_with(first) && text.contains(later), "append {append}, {args:?}:\n{text}");
    }
    // `skyhelm diff --report-file /dev/stdout >file`: the report, then the diff after it.
    let log = tmp.path().join("stdout.log");
    let out = clean(&mut Command::new(bin()))
        .env("XDG_STATE_HOME", tmp.path().join("state"))
        .args(["diff", "--report-file=/dev/stdout", "--color=never"])
        .stdin(std::fs::File::open(&input).expect("stdin"))
        .stdout(std::fs::File::create(&log).expect("log"))
        .status()
        .expect("run");
    assert_eq!(out.code(), Some(2));
    let text = std::fs::read_to_string(&log).expect("log");
    let diff_at = text.find("+        - name: kube-config").unwrap_or_else(|| panic!("no diff: {text}"));
    assert!(
        text.starts_with("changed Deployment sky/sky-api-server") && text[..diff_at].contains("\nchanged "),
        "{text}"
    );
    // Another descriptor, opened for appending by a shell.
    let log = tmp.path().join("fd3.log");
    std::fs::write(&log, "earlier line\n").expect("log");
    let status = clean(&mut Command::new("/bin/sh"))
        .env("XDG_STATE_HOME", tmp.path().join("state"))
        .args(["-c", "exec \"$0\" post-render --report-file=/dev/fd/3 <\"$1\" >/dev/null 3>>\"$2\""])
        .arg(bin())
        .arg(&input)
        .arg(&log)
        .status()
        .expect("sh");
    assert!(status.success());
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.starts_with("earlier line\nchanged Deployment sky/sky-api-server"), "{text}");
}

/// Runs from ever new folders (CI checkouts) keep at most 64 reports: the oldest go, the run's
/// own stays.
#[test]
fn old_last_run_reports_are_pruned_to_64() {
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let dir = state.join("skyhelm");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for i in 0..70u64 {
        let f = std::fs::File::create(dir.join(format!("last-run-{i:016x}.txt"))).expect("create");
        f.set_modified(old + std::time::Duration::from_secs(i)).expect("mtime");
    }
    std::fs::write(dir.join("unrelated.txt"), "kept").expect("write");
    assert!(post_render(&[], &state, API_DEPLOYMENT).status.success());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 65, "64 reports and the unrelated file: {names:?}");
    assert!(names.contains(&"unrelated.txt".to_string()));
    // The 63 newest fakes (7..70) and this run's report.
    assert!(
        !names.contains(&format!("last-run-{:016x}.txt", 6)) && names.contains(&format!("last-run-{:016x}.txt", 7))
    );
    let out = last(&[("XDG_STATE_HOME", &state)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(" post-render ok at "));
}

/// `--report-file` naming a FIFO that nothing reads: an error at once (exit 1, nothing on
/// stdout), not a run blocked for ever in `open` (a Helm install hung); with a reader the
/// report goes through the FIFO.
#[test]
fn a_report_file_naming_a_fifo_nobody_reads_fails_instead_of_hanging() {
    let tmp = tempfile::tempdir().expect("tmp");
    let fifo = tmp.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let mut child = clean(&mut Command::new(bin()))
        .env("XDG_STATE_HOME", tmp.path().join("state"))
        .arg("post-render")
        .arg("--report-file")
        .arg(&fifo)
        .stdin(std::fs::File::open(manifests_file(tmp.path())).expect("stdin"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("skyhelm blocked on a FIFO without a reader");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert!(err.contains("a FIFO that nothing reads"), "{err}");
    // With a reader (opened before the run, non-blocking, so no race): the report arrives.
    let mut reader = std::fs::OpenOptions::new();
    reader.read(true);
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut reader, libc::O_NONBLOCK);
    let mut reader = reader.open(&fifo).expect("open the fifo's reading end");
    let out = post_render(&["--report-file", fifo.to_str().expect("p")], &tmp.path().join("state"), API_DEPLOYMENT);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut got = String::new();
    std::io::Read::read_to_string(&mut reader, &mut got).expect("read fifo");
    assert!(got.starts_with("changed Deployment sky/sky-api-server"), "{got}");
}

/// The API server Deployment in a file (a stdin that is not a pipe).
fn manifests_file(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("in.yaml");
    std::fs::write(&p, API_DEPLOYMENT).expect("input");
    p
}
