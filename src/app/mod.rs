//! The only place that touches stdin, stdout, stderr, files, the environment and processes.

use crate::files;
pub mod man;
pub mod stack;
mod stdio;
pub use stdio::Allocator;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{
    Cli, Command, DiffArgs, DiffOutput, DoctorArgs, DoctorOutput, GenerateArgs, KubeconfigCommand, LastArgs, PackArgs,
    PackOutput, PluginCommand, PluginPackageArgs, PostRenderArgs,
};
use crate::exit::Exit;
use crate::helm_plugin::{self, PluginError};
use crate::kubeconfig::cert;
use crate::kubeconfig::contexts_file::ContextsFileError;
use crate::kubeconfig::doctor::{self, DoctorInput};
use crate::kubeconfig::pack::{self, PackError, PackInput};
use crate::policy::contexts::{self, AllowedList};
use crate::post_render::PostRenderError;
use crate::report::{self, Report, ReportOptions};
use crate::rules::change::Outcome;
use crate::settings::{self, DoctorSettings, DoctorSource, GenerateSettings, LiveSettings, Settings, SettingsError};
use files::Mode;

/// Every error skyhelm prints. Only its `Display` is printed (`main_with`), so each message
/// holds its whole cause: the crate's errors print a wrapped error in their message from a plain
/// field (`cause`, never `source`, `#[source]` or `#[from]`) or are `transparent`, never both,
/// so a printed chain would not show a cause twice.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    PostRender(#[from] Box<PostRenderError>),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("{what} {path}: {cause}")]
    File { what: &'static str, path: PathBuf, cause: std::io::Error },
    #[error("reading stdin: {0}")]
    Stdin(std::io::Error),
    #[error("writing stdout: {0}")]
    Stdout(std::io::Error),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error("both a kubeconfig ({}) and a contexts file ({}) are given; pass one", .kubeconfig.display(), .contexts_file.display())]
    KubeconfigAndContextsFile { kubeconfig: PathBuf, contexts_file: PathBuf },
    #[error("--live contacts only the allowed contexts, and the manifests name none: pass --allowed-context NAME")]
    LiveManifestsNameNone,
    #[error("{}: not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("no kubeconfig: {0}; pass --kubeconfig FILE (or --contexts-file FILE for doctor)")]
    NoKubeconfig(String),
    #[error(transparent)]
    Kubeconfig(crate::kubeconfig::KubeconfigError),
    #[error(transparent)]
    ContextsFile(#[from] ContextsFileError),
    #[error("template {} is a symbolic link out of {}; not following it", .template.display(), .dir.display())]
    TemplateLinkOut { template: PathBuf, dir: PathBuf },
    #[error("template {} is a symbolic link to a folder; not following it (links to folders can loop)", .0.display())]
    TemplateLinkToFolder(PathBuf),
    #[error("{} is not a regular file; refusing to use it", .0.display())]
    NotRegularFile(PathBuf),
    #[error(transparent)]
    Owned(#[from] crate::chart::owned::OwnedError),
    #[error("{} is a symbolic link; skyhelm generate does not write through links", .0.display())]
    WriteThroughLink(PathBuf),
    #[error("{}", lines(.0))]
    Generate(Vec<crate::chart::GenerateError>),
    /// A post-render error, with where its report is kept (Helm 4 hides the plugin's stderr).
    #[error("{error}\nskyhelm: this report is kept in {}: `skyhelm last` prints it", .kept.display())]
    Kept { error: Box<AppError>, kept: PathBuf },
    #[error("{flag} {} is the file skyhelm reads as {what}: writing the report there would replace it (nothing was written); name another file", .side.display())]
    SideFileIsInput { flag: &'static str, side: PathBuf, what: &'static str },
    #[error("{flag} {} leads to skyhelm's {what}: the report would be mixed into that stream (nothing was written); name another file", .side.display())]
    SideFileIsStream { flag: &'static str, side: PathBuf, what: &'static str },
    #[error("no post-render run recorded yet (no last-run-*.txt in {})", .0.display())]
    NoLastRun(PathBuf),
    #[error("cannot tell where to keep the last run: set XDG_STATE_HOME or HOME to an absolute path")]
    NoStateDir,
    #[error(transparent)]
    Stack(#[from] stack::StackError),
}

/// Each error on its own line.
fn lines(errors: &[crate::chart::GenerateError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

impl AppError {
    /// A bug found by a check (exit 70), also when wrapped with where its report is kept.
    fn is_internal(&self) -> bool {
        match self {
            AppError::PostRender(p) => p.is_internal(),
            AppError::Kept { error, .. } => error.is_internal(),
            _ => false,
        }
    }
}

fn file_err<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> AppError + 'p {
    move |cause| AppError::File { what, path: path.to_path_buf(), cause }
}

/// Parses arguments, runs, prints the error chain once, maps it to an exit code.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    stdio::fixed_mmap_threshold();
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match Cli::parse_args(args.clone()) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&args, &e),
    };
    let result = std::panic::catch_unwind(|| run(cli));
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("skyhelm: error: {}", crate::messages::escaped_lines(&e.to_string()));
            if e.is_internal() { Exit::Internal } else { Exit::Error }.into()
        }
        Err(_) => {
            const MESSAGE: &str = "internal error (a bug): the run stopped; nothing was written to stdout";
            // The report would say "running" (and "killed or aborted"): say what happened.
            if crate::cli::runs_post_render(&args) {
                keep_report("failed", &format!("error: {MESSAGE}\n"));
            }
            eprintln!("skyhelm: {MESSAGE}");
            Exit::Internal.into()
        }
    }
}

/// A command line clap refused (or `--help`, `--version`, which clap reports the same way):
/// its message on stderr, exit 1 on every subcommand (never 2, which `diff` uses for changes),
/// and the JSON error object on stdout when JSON output was asked for.
fn usage_error(args: &[OsString], e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        // --help, --version: clap prints them on stdout.
        return match e.print() {
            Ok(()) => Exit::Ok.into(),
            Err(_) => Exit::Error.into(),
        };
    }
    let text = e.render().to_string();
    // Helm 4 hides stderr: a refused post-render command line is the last run's report
    // (else `skyhelm last` would show the run before as `ok`).
    if crate::cli::runs_post_render(args) {
        let lines: String = text.lines().map(|l| crate::messages::sanitize(l, &[]) + "\n").collect();
        keep_report("failed", &lines);
    }
    if let Some(sub) = crate::cli::json_requested(args) {
        // The error and its tips, without the usage line and the pointer to --help.
        let message: Vec<&str> = text
            .lines()
            .take_while(|l| !l.starts_with("Usage:"))
            .map(|l| l.trim().trim_start_matches("error: "))
            .filter(|l| !l.is_empty())
            .collect();
        let message = crate::messages::sanitize(&message.join("; "), &[]);
        let fields =
            if sub == "diff" { serde_json::json!({ "version": 1 }) } else { serde_json::json!({ "kubeconfig": null }) };
        print_json_problems(&[Problem { message, document: None, line: None }], fields);
    }
    let _ = e.print();
    Exit::Usage.into()
}

fn run(cli: Cli) -> Result<ExitCode, AppError> {
    match cli.command {
        Some(Command::PostRender(args)) => run_post_render(&args),
        Some(Command::Diff(args)) => run_diff(&args).inspect_err(|e| {
            if args.output == DiffOutput::Json {
                print_json_error(e, serde_json::json!({ "version": 1 }));
            }
        }),
        Some(Command::HelmPlugin(PluginCommand::Install(a))) => {
            stdout(format!("{}\n", helm_plugin::install(a.dir.dir.as_deref(), a.force)?))?;
            Ok(Exit::Ok.into())
        }
        Some(Command::HelmPlugin(PluginCommand::Uninstall(dir))) => {
            stdout(format!("{}\n", helm_plugin::uninstall(dir.dir.as_deref())?))?;
            Ok(Exit::Ok.into())
        }
        Some(Command::HelmPlugin(PluginCommand::Package(args))) => plugin_package(&args),
        Some(Command::Completions(args)) => {
            // Into a buffer: clap_complete panics when its writer fails (a closed or full stdout).
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut crate::cli::command(), "skyhelm", &mut script);
            stdout(script)?;
            Ok(Exit::Ok.into())
        }
        Some(Command::Man(args)) => run_man(args.out.as_deref()),
        Some(Command::Last(args)) => run_last(&args),
        Some(Command::Doctor(args)) => with_default_depth(|| run_doctor(&args)).inspect_err(|e| {
            if args.output == DoctorOutput::Json {
                let path = args.kubeconfig.as_ref().or(args.contexts_file.as_ref());
                print_json_error(e, serde_json::json!({ "kubeconfig": path.map(|p| p.display().to_string()) }));
            }
        }),
        Some(Command::Kubeconfig(KubeconfigCommand::Pack(args))) => with_default_depth(|| run_pack(&args)),
        Some(Command::Generate(args)) => with_default_depth(|| run_generate(&args)),
        None if std::io::stdin().is_terminal() => {
            crate::cli::command().print_help().map_err(AppError::Stdout)?;
            Ok(Exit::Usage.into())
        }
        None => run_post_render(&cli.post_render),
    }
}

/// A command that parses YAML with the default limits (`doctor`, `kubeconfig pack`,
/// `generate`), on a thread whose stack holds the deepest document they accept.
fn with_default_depth(work: impl FnOnce() -> Result<ExitCode, AppError> + Send) -> Result<ExitCode, AppError> {
    stack::with_depth(crate::yaml::limits::DEFAULT_MAX_DEPTH, work)?
}

/// Writes to stdout; a failed write (closed pipe, full disk) is an error, not a panic as
/// `println!` makes it.
fn stdout(bytes: impl AsRef<[u8]>) -> Result<(), AppError> {
    std::io::stdout().lock().write_all(bytes.as_ref()).map_err(AppError::Stdout)
}

/// One problem of a failed run, as `--output json` lists it: the message, and where in the
/// manifest stream when the error says (`document` 1-based, `line` within the stream).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl Problem {
    fn of(message: impl ToString) -> Problem {
        Problem { message: message.to_string(), document: None, line: None }
    }
}

impl AppError {
    /// The problems this error holds, one per entry: `--strict`'s corrections and warnings,
    /// `generate`'s errors, each on its own; a manifest error with its document and line.
    pub fn problems(&self) -> Vec<Problem> {
        use crate::stream::ManifestError as M;
        let manifest = |m: &M| {
            let at = match m {
                M::Parse { at, .. }
                | M::Edit { at, .. }
                | M::Empty { at }
                | M::Unnamed { at }
                | M::DuplicateKey { at, .. }
                | M::Yaml11Break { at, .. } => at,
            };
            Problem { message: m.to_string(), document: Some(at.document.number()), line: at.line }
        };
        match self {
            AppError::Kept { error, .. } => error.problems(),
            AppError::Generate(errors) => errors.iter().map(Problem::of).collect(),
            AppError::PostRender(p) => match p.as_ref() {
                PostRenderError::Strict { fixes, warnings } => fixes
                    .iter()
                    .map(|(at, f)| Problem {
                        message: format!("--strict: correction: {at}: {f}"),
                        document: Some(at.document.number()),
                        line: at.line,
                    })
                    .chain(warnings.iter().map(|w| Problem::of(format!("--strict: warning: {w}"))))
                    .collect(),
                PostRenderError::Manifest(m) => vec![manifest(m)],
                PostRenderError::Rule(crate::rules::RuleError::Manifest(m)) => vec![manifest(m)],
                PostRenderError::Input(crate::stream::InputError::NotUtf8 { document, line, .. }) => {
                    vec![Problem { message: p.to_string(), document: Some(document.number()), line: Some(*line) }]
                }
                _ => vec![Problem::of(p)],
            },
            e => vec![Problem::of(e)],
        }
    }
}

/// `--output json` failed: stdout gets only `{…fields, "errors": [{message, document?,
/// line?}], "error": ALL MESSAGES}`, so that a script reading it sees the failure; the message
/// also goes to stderr and the exit code is 1.
fn print_json_error(e: &AppError, fields: serde_json::Value) {
    if matches!(e, AppError::Stdout(_)) {
        return;
    }
    let mut problems = e.problems();
    if let [only] = problems.as_mut_slice() {
        // The whole message (a Kept error says where its report is).
        only.message = e.to_string();
    }
    print_json_problems(&problems, fields);
}

fn print_json_problems(problems: &[Problem], mut fields: serde_json::Value) {
    let all: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    fields["errors"] = serde_json::to_value(problems).unwrap_or_default();
    fields["error"] = serde_json::Value::String(all.join("\n"));
    let text = crate::messages::escape_hidden_json(&serde_json::to_string_pretty(&fields).unwrap_or_default()) + "\n";
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, AppError> {
    std::fs::read(path).map_err(file_err(what, path))
}

fn load_settings(args: &PostRenderArgs) -> Result<Settings, AppError> {
    let config = match &args.config {
        Some(path) => {
            let bytes = read_file("reading config file", path)?;
            settings::config_file(path, &String::from_utf8_lossy(&bytes))?
        }
        None => PostRenderArgs::default(),
    };
    Ok(Settings::resolve(args, config))
}

/// Post-render, on a thread whose stack holds a document nested `--max-depth` deep.
fn run_post_render(args: &PostRenderArgs) -> Result<ExitCode, AppError> {
    mark_running();
    let settings = settings::refuse_helm_global_flags(args).map_err(AppError::from).and_then(|()| load_settings(args));
    let depth = settings.as_ref().map_or(crate::yaml::limits::DEFAULT_MAX_DEPTH, |s| s.limits.max_depth);
    match stack::with_depth(depth, || post_render(settings, args.config.as_deref())) {
        Ok(result) => result,
        Err(e) => finish_post_render(Err(e.into()), &[]),
    }
}

fn post_render(settings: Result<Settings, AppError>, config: Option<&Path>) -> Result<ExitCode, AppError> {
    // The stream, kept until the output (its own bytes, mostly) is written.
    let mut input = stdio::Input::default();
    let result = settings.and_then(|settings| {
        fault_injection();
        refuse_side_file_over_input(&settings, config, None, &[StdStream::Stdin, StdStream::Stdout])?;
        let result = stdio::read_stdin().map_err(AppError::Stdin).and_then(|read| {
            input = read;
            run_core(&settings, &input)
        });
        write_side_files(&settings, &result, &input)?;
        result
    });
    finish_post_render(result, &input)
}

/// Keeps the run's report, then prints the output and the log (or returns the error).
fn finish_post_render(result: Result<Outcome, AppError>, input: &[u8]) -> Result<ExitCode, AppError> {
    let kept = keep_last_run(&result);
    let outcome = match (result, kept) {
        (Ok(outcome), _) => outcome,
        (Err(e), Some(kept)) => return Err(AppError::Kept { error: Box::new(e), kept }),
        (Err(e), None) => return Err(e),
    };
    stdio::write_stdout(&outcome.output_slices(input)).map_err(AppError::Stdout)?;
    eprint!("{}", outcome.log_lines().lines().map(|l| format!("skyhelm: {l}\n")).collect::<String>());
    Ok(Exit::Ok.into())
}

/// Fault injection for the panic guard's test (`SKYHELM_TEST_PANIC`): debug builds only, so
/// the release binary has no test-only behaviour.
fn fault_injection() {
    #[cfg(debug_assertions)]
    #[allow(clippy::panic)]
    if std::env::var_os("SKYHELM_TEST_PANIC").is_some() {
        panic!("SKYHELM_TEST_PANIC is set");
    }
}

/// The report of this run (errors, changes, notes) at `files::last_run_path()`, for `skyhelm
/// last`. Returns where it went; a failure to keep it is a warning, never the run's failure.
fn keep_last_run(result: &Result<Outcome, AppError>) -> Option<PathBuf> {
    let (status, body) = match result {
        Ok(outcome) => ("ok", outcome.log_lines()),
        Err(e) => ("failed", crate::messages::escaped_lines(&format!("error: {e}\n"))),
    };
    keep_report(status, &body)
}

/// This working folder's last-run report (`files::last_run_path`), and the folder named in it.
fn last_run_file() -> Option<(PathBuf, String)> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let path = files::last_run_path(&files::state_dir()?, &cwd);
    Some((path, cwd.display().to_string()))
}

/// `skyhelm VERSION post-render STATUS …`: the first line of every last-run report.
fn report_header(status: &str, cwd: &str) -> String {
    let now = files::utc_timestamp(cert::unix_now());
    let cwd = crate::messages::sanitize_capped(cwd, &[], 4096);
    match status {
        "running" => format!(
            "skyhelm {} post-render running since {now} (pid {}) (in {cwd})\n",
            crate::VERSION,
            std::process::id()
        ),
        _ => format!("skyhelm {} post-render {status} at {now} (in {cwd})\n", crate::VERSION),
    }
}

/// Marks this working folder's last-run report as running before any work, so a run that
/// never writes its report (killed, aborted by a stack overflow) leaves "running", never the
/// previous run's "ok". A failure here is left to `keep_report` to warn about.
fn mark_running() {
    if let Some((path, cwd)) = last_run_file() {
        let text = report_header("running", &cwd)
            + "this run has not finished: it is still running, or it was killed or aborted\n";
        let _ = files::save_last_run(&path, &text);
    }
}

/// Keeps `body` as the last post-render run's report, with its `status` (`ok`, `failed`).
fn keep_report(status: &str, body: &str) -> Option<PathBuf> {
    let (path, cwd) = last_run_file()?;
    let text = report_header(status, &cwd) + body;
    match files::save_last_run(&path, &text) {
        Ok(()) => {
            if let Some(state) = path.parent()
                && let Err(e) = files::prune_last_runs(state, &path)
            {
                eprintln!("skyhelm: warning: cannot remove old reports in {}: {e}", state.display());
            }
            Some(path)
        }
        Err(e) => {
            eprintln!("skyhelm: warning: cannot keep this report in {}: {e}", path.display());
            None
        }
    }
}

fn run_man(out: Option<&Path>) -> Result<ExitCode, AppError> {
    let Some(dir) = out else {
        stdout(man::top_page().map_err(AppError::Stdout)?)?;
        return Ok(Exit::Ok.into());
    };
    std::fs::create_dir_all(dir).map_err(file_err("creating", dir))?;
    for (name, page) in man::pages().map_err(AppError::Stdout)? {
        let path = dir.join(name);
        files::write_atomic(&path, &page, Mode::Public).map_err(file_err("writing", &path))?;
        stdout(format!("wrote {}\n", path.display()))?;
    }
    Ok(Exit::Ok.into())
}

/// The status word of a last-run report (`ok`, `failed`, `running`), from its first line.
fn report_status(text: &str) -> &str {
    let header = text.lines().next().unwrap_or_default();
    match header.strip_prefix("skyhelm ").and_then(|h| h.split_once(" post-render ")) {
        Some((_, rest)) => rest.split(' ').next().unwrap_or_default(),
        None => "unknown",
    }
}

/// For a report left "running": whether its process is gone (then it was killed or aborted).
fn running_note(text: &str) -> Option<String> {
    let header = text.lines().next()?;
    let pid = header.split("(pid ").nth(1)?.split(')').next()?;
    let pid: u32 = pid.parse().ok()?;
    let gone = !Path::new("/proc").join(pid.to_string()).exists();
    Some(if gone {
        format!("skyhelm: that run did not finish: process {pid} is gone (killed or aborted)\n")
    } else {
        format!("skyhelm: that run has not finished: process {pid} is still running\n")
    })
}

/// `skyhelm last`: this working folder's report (the run a failed `helm install` here just made,
/// which its error names), else the newest of any folder; exit 0 only when that run was ok. A
/// newer run from another folder (a CI job, another terminal) never answers for this one.
/// `--all`: the first line of every report, newest first; exit 0 only when all were ok.
fn run_last(args: &LastArgs) -> Result<ExitCode, AppError> {
    let dir = files::state_dir().ok_or(AppError::NoStateDir)?;
    let mut paths = match files::last_runs(&dir) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(AppError::File { what: "reading", path: dir, cause: e }),
    };
    if !args.all
        && let Some((here, _)) = last_run_file()
        && let Some(at) = paths.iter().position(|p| *p == here)
    {
        paths[..=at].rotate_right(1);
    }
    if paths.is_empty() {
        return Err(AppError::NoLastRun(dir));
    }
    let mut all_ok = true;
    let mut out = String::new();
    for path in paths.iter().take(if args.all { usize::MAX } else { 1 }) {
        let text = match std::fs::read(path) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            // Replaced or removed since it was listed: the next one is older anyway.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && args.all => continue,
            Err(e) => return Err(AppError::File { what: "reading", path: path.clone(), cause: e }),
        };
        let ok = report_status(&text) == "ok";
        all_ok &= ok;
        if args.all {
            out.push_str(text.lines().next().unwrap_or_default());
            out.push('\n');
        } else {
            out.push_str(&text);
            if report_status(&text) == "running"
                && let Some(note) = running_note(&text)
            {
                eprint!("{note}");
            }
        }
    }
    stdout(out)?;
    Ok(if all_ok { Exit::Ok } else { Exit::Error }.into())
}

fn plugin_package(args: &PluginPackageArgs) -> Result<ExitCode, AppError> {
    let signing = match (&args.key, &args.keyring) {
        (Some(key), Some(keyring)) if args.sign => Some(helm_plugin::Signing { key, keyring }),
        _ => None,
    };
    for f in helm_plugin::package(&args.out, signing.as_ref())? {
        stdout(format!("wrote {}\n", f.display()))?;
    }
    Ok(Exit::Ok.into())
}

/// Post-renders `input`; nothing is written here.
fn run_core(settings: &Settings, input: &[u8]) -> Result<Outcome, AppError> {
    let kubeconfig = settings.kubeconfig.as_deref().map(|p| read_file("reading kubeconfig", p)).transpose()?;
    if let (Some(k), Some(c)) = (&settings.kubeconfig, &settings.contexts_file) {
        return Err(AppError::KubeconfigAndContextsFile { kubeconfig: k.clone(), contexts_file: c.clone() });
    }
    let contexts = settings.contexts_file.as_deref().map(read_contexts_file).transpose()?;
    Ok(crate::post_render::post_render_with(input, settings, kubeconfig.as_deref(), contexts.as_ref())
        .map_err(Box::new)?)
}

/// A standard stream a run uses, for [`refuse_side_file_over_input`].
#[derive(Debug, Clone, Copy)]
enum StdStream {
    Stdin,
    Stdout,
}

impl StdStream {
    fn what(self) -> &'static str {
        match self {
            StdStream::Stdin => "standard input, which it reads",
            StdStream::Stdout => "standard output, where the manifests go",
        }
    }

    /// What the stream is open on (`fstat` through a duplicate of its descriptor).
    fn metadata(self) -> Option<std::fs::Metadata> {
        use std::os::fd::AsFd;
        let fd = match self {
            StdStream::Stdin => std::io::stdin().as_fd().try_clone_to_owned(),
            StdStream::Stdout => std::io::stdout().as_fd().try_clone_to_owned(),
        };
        std::fs::File::from(fd.ok()?).metadata().ok()
    }
}

/// Refuses a `--report-file` or `--diff-file` that names a file this run reads (the kubeconfig,
/// the contexts file, the --config file, diff's input): the side file is written even when the
/// run fails, and would replace it (`--report-file ~/.kube/skypilot-kubeconfig` lost the only
/// copy of the credentials). The same file is the same entry, or the file an input link leads
/// to; a side file that is itself a link is replaced, not followed, so it is compared unfollowed.
///
/// The same holds for the streams in `streams` (post-render's stdin and stdout, diff's stdin
/// when it reads the manifests there) when they are a file, a pipe or a socket: a side file
/// that leads to one (`/dev/stdout`, `/proc/self/fd/1`, `/dev/stdin`, a link to the file
/// behind `>`) would put the report into the manifests Helm reads, or replace `/dev/stdin`.
/// A terminal or `/dev/null` (character devices) takes the report harmlessly.
fn refuse_side_file_over_input(
    settings: &Settings,
    config: Option<&Path>,
    input: Option<&Path>,
    streams: &[StdStream],
) -> Result<(), AppError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let sides = [("--report-file", &settings.report_file), ("--diff-file", &settings.diff_file)];
    for stream in streams {
        let Some(s) = stream.metadata() else { continue };
        if s.file_type().is_char_device() {
            continue;
        }
        for (flag, side) in sides {
            if let Some(side) = side
                && let Ok(m) = std::fs::metadata(side)
                && (m.dev(), m.ino()) == (s.dev(), s.ino())
            {
                return Err(AppError::SideFileIsStream { flag, side: side.clone(), what: stream.what() });
            }
        }
    }
    let inputs = [
        ("the kubeconfig", settings.kubeconfig.as_deref()),
        ("the contexts file", settings.contexts_file.as_deref()),
        ("the --config file", config),
        ("its input", input.filter(|p| *p != Path::new("-"))),
    ];
    for (flag, side) in sides {
        let Some(side) = side else { continue };
        let Ok(s) = std::fs::symlink_metadata(side) else { continue };
        for (what, path) in inputs {
            if let Some(path) = path
                && let Ok(i) = std::fs::metadata(path)
                && (i.dev(), i.ino()) == (s.dev(), s.ino())
            {
                return Err(AppError::SideFileIsInput { flag, side: side.clone(), what });
            }
        }
    }
    Ok(())
}

/// `--report-file` (errors, changes, notes) and `--diff-file` (the report), written atomically.
/// `input` is the stream the outcome is of.
fn write_side_files(settings: &Settings, result: &Result<Outcome, AppError>, input: &[u8]) -> Result<(), AppError> {
    if let Some(path) = &settings.report_file {
        let text = match result {
            Ok(outcome) => outcome.log_lines(),
            Err(e) => crate::messages::escaped_lines(&format!("error: {e}\n")),
        };
        files::write_atomic(path, text.as_bytes(), Mode::KeepExisting).map_err(file_err("writing", path))?;
    }
    if let (Some(path), Ok(outcome)) = (&settings.diff_file, result) {
        let opts = ReportOptions { show_secrets: settings.show_secrets, ..ReportOptions::default() };
        let text = report::render_human(&Report::from_outcome(outcome, input, &opts), &opts);
        files::write_atomic(path, text.as_bytes(), Mode::KeepExisting).map_err(file_err("writing", path))?;
    }
    Ok(())
}

/// Diff, on a thread whose stack holds a document nested `--max-depth` deep.
fn run_diff(args: &DiffArgs) -> Result<ExitCode, AppError> {
    let settings = load_settings(&args.post_render)?;
    let reads_stdin = args.input.as_deref().is_none_or(|p| p == Path::new("-"));
    let streams: &[StdStream] = if reads_stdin { &[StdStream::Stdin] } else { &[] };
    refuse_side_file_over_input(&settings, args.post_render.config.as_deref(), args.input.as_deref(), streams)?;
    stack::with_depth(settings.limits.max_depth, || diff(args, &settings))?
}

fn diff(args: &DiffArgs, settings: &Settings) -> Result<ExitCode, AppError> {
    let input = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    // The input is kept for the report (the documents' texts before are ranges of it).
    let (bytes, result) = match read_input(&input) {
        Ok(bytes) => {
            let result = run_core(settings, &bytes);
            (bytes, result)
        }
        Err(e) => (stdio::Input::from(Vec::new()), Err(e)),
    };
    write_side_files(settings, &result, &bytes)?;
    let outcome = result?;
    let color =
        settings::diff_color(args.color, std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let opts = ReportOptions { context: args.context, color, show_secrets: settings.show_secrets };
    let report = Report::from_outcome(&outcome, &bytes, &opts);
    let text = match args.output {
        DiffOutput::Diff => report::render_human(&report, &opts),
        DiffOutput::Json => report::render_json(&report),
    };
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(AppError::Stdout)?;
    Ok(if report.changed() { Exit::Changes } else { Exit::Ok }.into())
}

fn read_input(path: &Path) -> Result<stdio::Input, AppError> {
    if path.as_os_str() == "-" {
        stdio::read_stdin().map_err(AppError::Stdin)
    } else {
        read_file("reading", path).map(stdio::Input::from)
    }
}

fn run_doctor(args: &DoctorArgs) -> Result<ExitCode, AppError> {
    let settings = DoctorSettings::resolve(args)?;
    let (path, text, contexts_file) = match &settings.source {
        DoctorSource::ContextsFile(c) => (c.display().to_string(), Vec::new(), Some(read_contexts_file(c)?)),
        DoctorSource::Kubeconfig(k) => (k.display().to_string(), read_file("reading kubeconfig", k)?, None),
        DoctorSource::Default => {
            let (path, text) = kubectl_kubeconfig()?;
            (path.display().to_string(), text, None)
        }
    };
    let now = settings.now.unwrap_or_else(cert::unix_now);
    let mut input = DoctorInput {
        path: &path,
        text: &text,
        allowed: None,
        in_cluster_name: contexts::DEFAULT_IN_CLUSTER.into(),
        in_cluster_exists: None,
        now,
        external_database: false,
        env: contexts::ContextEnv::default(),
    };
    let manifests = settings.manifests.as_deref().map(read_input).transpose()?;
    if let Some(bytes) = &manifests {
        let inspected =
            crate::post_render::deployed_contexts(bytes, settings.deployment.as_deref(), &settings.container)
                .map_err(Box::new)?;
        input.in_cluster_name = inspected.facts.in_cluster_name;
        input.in_cluster_exists = Some(inspected.facts.in_cluster_exists);
        input.env = inspected.facts.env;
        input.allowed = inspected.lists;
        input.external_database = inspected.external_database;
    }
    if !settings.allowed_contexts.is_empty() {
        input.allowed = Some(vec![("--allowed-context".into(), AllowedList::from_flag(&settings.allowed_contexts))]);
    }
    if settings.live.is_some() && input.allowed.is_none() {
        return Err(AppError::LiveManifestsNameNone);
    }
    let mut findings = match &contexts_file {
        Some(f) => crate::kubeconfig::contexts_file::doctor(f, &input),
        None => doctor::doctor(&input),
    };
    if let Some(live) = settings.live {
        findings.extend(live_findings(&text, &input, live));
        if let Some(bytes) = &manifests {
            let said = crate::post_render::external_account(bytes, settings.deployment.as_deref(), &settings.container)
                .map_err(Box::new)?;
            findings.extend(said.as_deref().map(crate::live::account_finding));
        }
        findings.sort_by_key(|f| f.severity);
    }
    let text = match settings.output {
        DoctorOutput::Table => {
            let no_color = std::env::var_os("NO_COLOR");
            let color = settings::diff_color(settings.color, std::io::stdout().is_terminal(), no_color.as_deref());
            doctor::render_table(&path, &findings, color)
        }
        DoctorOutput::Json => doctor::render_json(&path, &findings),
    };
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(AppError::Stdout)?;
    let errors = findings.iter().any(|f| f.severity == crate::model::Severity::Error);
    Ok(if errors { Exit::Error } else { Exit::Ok }.into())
}

fn run_pack(args: &PackArgs) -> Result<ExitCode, AppError> {
    if let Some(problem) = crate::kubeconfig::secret_name_problem(&args.secret_name) {
        return Err(SettingsError::SecretName { from: "--secret-name", problem }.into());
    }
    let (path, bytes) = match &args.kubeconfig {
        Some(k) => (k.clone(), read_file("reading kubeconfig", k)?),
        None => kubectl_kubeconfig()?,
    };
    let text = String::from_utf8(bytes).map_err(|_| AppError::NotUtf8(path.clone()))?;
    let input = PackInput { path: &path, text: &text, contexts: &args.contexts, allow_exec: args.allow_exec };
    let packed = pack::pack(&input, &mut |p: &Path| files::read_regular_file(p, pack::MAX_FILE_BYTES))?;
    let kubeconfig = pack::render_kubeconfig(&packed);
    if let Some(path) = &args.contexts_file {
        let file = crate::kubeconfig::contexts_file::ContextsFile::of(&packed, &args.secret_name, &kubeconfig);
        files::write_atomic(path, file.render().as_bytes(), Mode::KeepExisting).map_err(file_err("writing", path))?;
    }
    let out = match args.output {
        PackOutput::Kubeconfig => kubeconfig,
        PackOutput::Secret => pack::render_secret(&kubeconfig, &args.secret_name, args.namespace.as_deref()),
    };
    std::io::stdout().lock().write_all(out.as_bytes()).map_err(AppError::Stdout)?;
    Ok(Exit::Ok.into())
}

/// The kubeconfig kubectl would use with no `--kubeconfig`: the files `$KUBECONFIG` lists
/// (missing ones skipped, as kubectl skips them; several merged as kubectl merges them), else
/// `~/.kube/config`. Returns the name to show (the file, or the list when merged) and the text.
fn kubectl_kubeconfig() -> Result<(PathBuf, Vec<u8>), AppError> {
    let listed: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
        .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    if listed.is_empty() {
        let home = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_absolute());
        let Some(path) = home.map(|h| h.join(".kube").join("config")) else {
            return Err(AppError::NoKubeconfig("KUBECONFIG is not set and HOME is not an absolute path".into()));
        };
        return match std::fs::read(&path) {
            Ok(bytes) => Ok((path, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(AppError::NoKubeconfig(format!("KUBECONFIG is not set and {} does not exist", path.display())))
            }
            Err(cause) => Err(AppError::File { what: "reading kubeconfig", path, cause }),
        };
    }
    let mut found = Vec::new();
    for path in &listed {
        match std::fs::read(path) {
            Ok(bytes) => found.push((path.clone(), bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(cause) => return Err(AppError::File { what: "reading kubeconfig", path: path.clone(), cause }),
        }
    }
    let shown = std::env::join_paths(&listed).map(PathBuf::from).unwrap_or_default();
    match found.len() {
        0 => Err(AppError::NoKubeconfig(format!("no file that KUBECONFIG lists exists ({})", shown.display()))),
        1 => Ok(found.remove(0)),
        _ => {
            let mut texts = Vec::new();
            for (path, bytes) in &found {
                texts.push((path.as_path(), std::str::from_utf8(bytes).map_err(|_| AppError::NotUtf8(path.clone()))?));
            }
            let merged = crate::kubeconfig::merge::merge(&texts).map_err(AppError::Kubeconfig)?;
            Ok((shown, merged.into_bytes()))
        }
    }
}

/// The contexts `doctor --live` checks: those the allowed lists use (`run_doctor` makes sure
/// there is a list).
fn live_findings(text: &[u8], input: &DoctorInput, live: LiveSettings) -> Vec<doctor::Finding> {
    let Ok(config) =
        std::str::from_utf8(text).map_err(|_| ()).and_then(|t| kube::config::Kubeconfig::from_yaml(t).map_err(|_| ()))
    else {
        return Vec::new();
    };
    let allowed = input.allowed.as_deref().unwrap_or_default();
    let wanted = crate::live::contexts_to_check(&config, allowed, &input.in_cluster_name, &input.env);
    crate::live::client::check_contexts(&config, &wanted, live.timeout, live.allow_exec)
        .iter()
        .flat_map(|(c, r)| crate::live::findings(c, r))
        .collect()
}

fn load_templates(dir: Option<&Path>) -> Result<Vec<(String, String)>, AppError> {
    let Some(dir) = dir else {
        return Ok(crate::chart::EMBEDDED.iter().map(|(n, t)| ((*n).to_string(), (*t).to_string())).collect());
    };
    let mut out = Vec::new();
    let root = std::fs::canonicalize(dir).map_err(file_err("reading templates in", dir))?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(file_err("reading templates in", &d))? {
            let p = entry.map_err(file_err("reading templates in", &d))?.path();
            let meta = std::fs::symlink_metadata(&p).map_err(file_err("reading", &p))?;
            // Symbolic links: a file inside DIR is read; a link to a folder (a cycle, perhaps) or
            // out of DIR is refused, never followed.
            if meta.file_type().is_symlink() {
                let target = std::fs::canonicalize(&p).map_err(file_err("following link", &p))?;
                if !target.starts_with(&root) {
                    return Err(AppError::TemplateLinkOut { template: p, dir: dir.to_path_buf() });
                }
                if target.is_dir() {
                    return Err(AppError::TemplateLinkToFolder(p));
                }
            } else if meta.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_some_and(|e| e == "tera") {
                let name = p.strip_prefix(dir).unwrap_or(&p).to_string_lossy().replace('\\', "/");
                let text =
                    String::from_utf8(read_file("reading template", &p)?).map_err(|_| AppError::NotUtf8(p.clone()))?;
                out.push((name, text));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn run_generate(args: &GenerateArgs) -> Result<ExitCode, AppError> {
    use crate::chart;
    let settings = GenerateSettings::resolve(args);
    let path = settings.environments.display().to_string();
    let text = String::from_utf8(read_file("reading environments file", &settings.environments)?)
        .map_err(|_| AppError::NotUtf8(settings.environments.clone()))?;
    let file = chart::EnvironmentsFile::parse(&path, &text).map_err(AppError::Generate)?;
    // Environments whose fields are wrong are still read and checked: `chart::generate`
    // reports every problem of the file in one run.
    let (envs, _) = chart::environments_and_errors(&file);
    let out = &settings.out;
    let kubeconfigs = context_sources(&file, &envs, &settings);
    let templates = load_templates(settings.templates.as_deref())?;
    let source = comment_safe_name(&settings.environments);
    let charts =
        chart::generate(&file, &source, &kubeconfigs, &templates, settings.format).map_err(AppError::Generate)?;
    for c in &charts {
        for n in &c.notes {
            eprintln!("skyhelm: note: {n}");
        }
        for w in &c.warnings {
            eprintln!("skyhelm: warning: {w}");
        }
    }
    let stale = stale_folders(out, &charts, &format!("{}-", file.name), settings.format)?;
    if settings.check {
        let mut differs = false;
        for c in &charts {
            differs |= check_generated(out, c)?;
        }
        for dir in &stale {
            differs |= check_stale_folder(out, dir)?;
            eprintln!("skyhelm: {}; a rerun removes it", stale_what(out, dir, &path));
        }
        if differs {
            let quote = |p: &Path| chart::shell_quote(&p.display().to_string());
            // The exact command: --templates too when this run used other templates.
            let templates =
                settings.templates.as_deref().map_or(String::new(), |t| format!(" --templates {}", quote(t)));
            eprintln!(
                "skyhelm: the generated files in {} differ from what {path} generates; run `skyhelm generate {} --format {} --out {}{templates}`",
                out.display(),
                quote(&settings.environments),
                settings.format.name(),
                quote(out),
            );
            return Ok(Exit::Error.into());
        }
        stdout(format!("generated files in {} are up to date\n", out.display()))?;
        return Ok(Exit::Ok.into());
    }
    for c in &charts {
        write_generated(out, c)?;
        stdout(format!("wrote {}\n", out.join(&c.dir).display()))?;
    }
    for dir in &stale {
        remove_stale_folder(out, dir)?;
        stdout(format!("removed {}\n", stale_what(out, dir, &path)))?;
    }
    Ok(Exit::Ok.into())
}

/// Each environment's kubeconfig or contexts file (relative to the environments file), read
/// and parsed; a failure is that environment's error, which `chart::generate` reports.
fn context_sources(
    file: &crate::chart::EnvironmentsFile,
    envs: &[crate::chart::Environment],
    settings: &GenerateSettings,
) -> std::collections::BTreeMap<String, Result<crate::chart::ContextSource, String>> {
    use crate::chart;
    let base = settings.environments.parent().unwrap_or(Path::new(""));
    let mut kubeconfigs = std::collections::BTreeMap::new();
    for env in envs {
        if let Some(k) = &env.kubeconfig {
            let p = base.join(k);
            let loaded = std::fs::read(&p).map_err(|e| format!("kubeconfig {}: {e}", p.display())).and_then(|b| {
                crate::kubeconfig::LoadedKubeconfig::parse(&p.display().to_string(), &b)
                    .map(|loaded| chart::ContextSource::Kubeconfig { loaded, text: b })
                    .map_err(|e| e.to_string())
            });
            kubeconfigs.insert(env.name.clone(), loaded);
        }
        if let Some(c) = &env.contexts {
            let p = base.join(c);
            let chart_dir = settings.out.join(chart::chart_name(file, env));
            let loaded = read_contexts_file(&p)
                .map_err(|e| e.to_string())
                .map(|file| chart::ContextSource::ContextsFile { file, settings_path: relative_path(&chart_dir, &p) });
            kubeconfigs.insert(env.name.clone(), loaded);
        }
    }
    kubeconfigs
}

/// The environments file's name as generated files' comments show it: no line breaks or
/// control characters.
fn comment_safe_name(environments: &Path) -> String {
    environments
        .file_name()
        .map_or_else(|| environments.display().to_string(), |n| n.to_string_lossy().into_owned())
        .chars()
        .map(|c| if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') { '?' } else { c })
        .collect()
}

fn read_contexts_file(path: &Path) -> Result<crate::kubeconfig::contexts_file::ContextsFile, AppError> {
    let text = String::from_utf8(read_file("reading contexts file", path)?)
        .map_err(|_| ContextsFileError::NotUtf8 { path: path.display().to_string() })?;
    Ok(crate::kubeconfig::contexts_file::ContextsFile::parse(&path.display().to_string(), &text)?)
}

/// `target` as seen from the folder `from` (both taken from the current folder when relative),
/// with `/` separators; absolute when they share nothing.
fn relative_path(from: &Path, target: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let norm = |p: &Path| {
        let mut out = PathBuf::new();
        for c in cwd.join(p).components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    };
    let (from, target) = (norm(from), norm(target));
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = target.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return target.to_string_lossy().into_owned();
    }
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(t[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// The files a generated folder listed as its own on the previous run (none without a list).
fn previously_owned(dir: &Path) -> Result<Vec<String>, AppError> {
    use crate::chart::owned;
    let list = dir.join(owned::OWNED_FILE);
    match std::fs::symlink_metadata(&list) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(AppError::File { what: "reading", path: list, cause: e }),
        Ok(m) if !m.file_type().is_file() => Err(AppError::NotRegularFile(list)),
        Ok(_) => {
            let text = String::from_utf8_lossy(&read_file("reading", &list)?).into_owned();
            Ok(owned::parse(&list.display().to_string(), &text)?)
        }
    }
}

/// Refuses to write or remove through a symbolic link: every component of `rel` below `out`
/// (the generated folder's name, then the file's path) that exists must be a real folder or
/// file. `out` itself is the user's choice.
fn refuse_links(out: &Path, rel: &str) -> Result<(), AppError> {
    let mut p = out.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        p.push(part);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(AppError::WriteThroughLink(p));
        }
    }
    Ok(())
}

/// `--check` for one generated folder: prints a diff for each generated file that differs on
/// disk and for each file it generated before that a rerun would remove. Files it does not
/// own are not looked at. Returns whether anything differs.
fn check_generated(out: &Path, c: &crate::chart::GeneratedChart) -> Result<bool, AppError> {
    let dir = out.join(&c.dir);
    let mut differs = false;
    let show = |p: &Path, have: &str, want: &str, what: &str| {
        stdout(format!(
            "--- {} (on disk)\n+++ {} ({what})\n{}",
            p.display(),
            p.display(),
            similar::TextDiff::from_lines(have, want).unified_diff().context_radius(3)
        ))
    };
    for (name, want) in &c.files {
        let p = dir.join(name);
        let have = std::fs::read(&p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        if &have != want {
            differs = true;
            show(&p, &have, want, "generated")?;
        }
    }
    for name in crate::chart::owned::stale(&previously_owned(&dir)?, &c.files) {
        let p = dir.join(&name);
        if let Ok(b) = std::fs::read(&p) {
            differs = true;
            show(&p, &String::from_utf8_lossy(&b), "", "no longer generated: a rerun removes it")?;
        }
    }
    Ok(differs)
}

/// The folders of `out` that an earlier run generated (each holds its `.skyhelm-generated`
/// list) and this run does not: an environment folder (named `prefix…`, as this file names
/// them, and its list naming no other `name:`) removed or renamed, or for a GitOps format the output folder itself (`""`) when this
/// run writes no shared files there. Links are not followed.
fn stale_folders(
    out: &Path,
    charts: &[crate::chart::GeneratedChart],
    prefix: &str,
    format: crate::model::Format,
) -> Result<Vec<String>, AppError> {
    use crate::chart::owned::OWNED_FILE;
    let generated = |d: &str| charts.iter().any(|c| c.dir == d);
    let has_list = |dir: &Path| std::fs::symlink_metadata(dir.join(OWNED_FILE)).is_ok_and(|m| m.file_type().is_file());
    let mut stale = Vec::new();
    if format != crate::model::Format::Chart && !generated("") && has_list(out) {
        stale.push(String::new());
    }
    let entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(stale),
        Err(e) => return Err(AppError::File { what: "reading", path: out.to_path_buf(), cause: e }),
    };
    for entry in entries {
        let entry = entry.map_err(file_err("reading", out))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        let is_dir = std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.file_type().is_dir());
        if is_dir && name.starts_with(prefix) && !generated(&name) && has_list(&entry.path()) {
            // A list that names another environments file's `name:` (`sky-team` beside `sky`:
            // its folders start with `sky-` too) is not this file's to remove.
            let list = entry.path().join(OWNED_FILE);
            let text = String::from_utf8_lossy(&read_file("reading", &list)?).into_owned();
            if crate::chart::owned::owner(&text).is_none_or(|n| format!("{n}-") == prefix) {
                stale.push(name);
            }
        }
    }
    stale.sort();
    Ok(stale)
}

/// What a stale folder is, for the user.
fn stale_what(out: &Path, dir: &str, environments: &str) -> String {
    if dir.is_empty() {
        format!("the files an earlier run generated in {} (this format writes none there now)", out.display())
    } else {
        format!("{}, generated for an environment that {environments} no longer has", out.join(dir).display())
    }
}

/// `--check` for a stale folder: a diff removing each file it lists (and the list). Returns
/// true (the folder is there to remove).
fn check_stale_folder(out: &Path, dir: &str) -> Result<bool, AppError> {
    let d = out.join(dir);
    let mut names = previously_owned(&d)?;
    names.push(crate::chart::owned::OWNED_FILE.to_string());
    for name in names {
        let p = d.join(&name);
        if let Ok(b) = std::fs::read(&p) {
            let have = String::from_utf8_lossy(&b);
            stdout(format!(
                "--- {} (on disk)\n+++ {} (no longer generated: a rerun removes it)\n{}",
                p.display(),
                p.display(),
                similar::TextDiff::from_lines(have.as_ref(), "").unified_diff().context_radius(3)
            ))?;
        }
    }
    Ok(true)
}

/// Removes a stale folder's generated files, then its list, then the folder when that left it
/// empty (files the user added keep it).
fn remove_stale_folder(out: &Path, dir: &str) -> Result<(), AppError> {
    use crate::chart::owned::OWNED_FILE;
    write_generated(out, &crate::chart::GeneratedChart { dir: dir.to_string(), ..Default::default() })?;
    refuse_links(out, &format!("{dir}/{OWNED_FILE}"))?;
    let d = out.join(dir);
    let list = d.join(OWNED_FILE);
    std::fs::remove_file(&list).map_err(file_err("removing", &list))?;
    if !dir.is_empty() {
        // Fails (and keeps it) when something is left in it.
        let _ = std::fs::remove_dir(&d);
    }
    Ok(())
}

/// Writes one generated folder: each generated file atomically (new files 0600), then removes
/// the files the previous run generated that are no longer generated. Nothing else in the
/// folder is touched.
fn write_generated(out: &Path, c: &crate::chart::GeneratedChart) -> Result<(), AppError> {
    let dir = out.join(&c.dir);
    let previous = previously_owned(&dir)?;
    for name in c.files.keys() {
        refuse_links(out, &format!("{}/{name}", c.dir))?;
    }
    for (name, text) in &c.files {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(file_err("creating", parent))?;
        }
        files::write_atomic(&p, text.as_bytes(), Mode::KeepExisting).map_err(file_err("writing", &p))?;
    }
    for name in crate::chart::owned::stale(&previous, &c.files) {
        refuse_links(out, &format!("{}/{name}", c.dir))?;
        let p = dir.join(&name);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AppError::File { what: "removing", path: p, cause: e }),
        }
        // Folders the removal left empty go too (never the generated folder itself).
        let mut parent = p.parent();
        while let Some(d) = parent.filter(|d| *d != dir && d.starts_with(&dir)) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            parent = d.parent();
        }
    }
    Ok(())
}
