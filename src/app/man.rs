//! The man pages: `skyhelm(1)` and one page per subcommand (`skyhelm-diff(1)`,
//! `skyhelm-kubeconfig-pack(1)`, …), each with EXIT STATUS, ENVIRONMENT and FILES sections.
//! Rendered into memory; `app` writes them.

/// The environment variables skyhelm reads that are not an option's (`SKYHELM_*` options come
/// from the command itself).
const OTHER_ENVIRONMENT: [(&str, &str); 6] = [
    (
        "KUBECONFIG",
        "doctor and kubeconfig pack, with no --kubeconfig: the kubeconfig files, merged as kubectl merges them (the first file to define a name wins; current-context from the first file that sets it).",
    ),
    (
        "HOME",
        "~/.kube/config, read by doctor and kubeconfig pack when neither --kubeconfig nor KUBECONFIG is set; and the last-run report's folder when XDG_STATE_HOME is unset.",
    ),
    (
        "XDG_STATE_HOME",
        "where the last post-render run's report is kept: $XDG_STATE_HOME/skyhelm/last-run.txt (default ~/.local/state).",
    ),
    ("NO_COLOR", "set and not empty: --color auto (diff, doctor) does not colour; --color always still does."),
    ("HELM_PLUGINS", "helm-plugin install and uninstall: Helm's plugin folder when --dir is not given."),
    ("NO_PROXY, HTTPS_PROXY", "doctor --live: proxies, as kubectl reads them."),
];

const FILES: &str = "$XDG_STATE_HOME/skyhelm/last-run.txt (default ~/.local/state/skyhelm/last-run.txt): the report of the last post-render run (errors, changes, notes), printed by `skyhelm last`.\n\
The --config file (SKYHELM_CONFIG): YAML with the post-render options in kebab-case (`secret-name: x`).\n\
~/.kube/config: the kubeconfig doctor and kubeconfig pack read when neither --kubeconfig nor KUBECONFIG is set.\n\
The contexts file (kubeconfig pack --contexts-file; --contexts-file of post-render, diff and doctor): names, servers and kinds of authentication, no credentials.";

/// Every page: (file name, roff text), the top page first.
pub fn pages() -> Result<Vec<(String, Vec<u8>)>, std::io::Error> {
    let mut cmd = crate::cli::command().disable_help_subcommand(true);
    cmd.build();
    let env = environment(&cmd);
    let mut out = Vec::new();
    let mut names = Vec::new();
    collect(&cmd, &mut names);
    collect_pages(&cmd, &env, &names, &mut out)?;
    Ok(out)
}

/// The top page alone (`skyhelm man`).
pub fn top_page() -> Result<Vec<u8>, std::io::Error> {
    Ok(pages()?.into_iter().next().map(|(_, page)| page).unwrap_or_default())
}

fn display_name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

fn collect(cmd: &clap::Command, names: &mut Vec<String>) {
    names.push(display_name(cmd).to_string());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, names);
    }
}

fn collect_pages(
    cmd: &clap::Command,
    env: &[(String, String)],
    names: &[String],
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), std::io::Error> {
    out.push((format!("{}.1", display_name(cmd)), page(cmd, env, names)?));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_pages(sub, env, names, out)?;
    }
    Ok(())
}

/// Every `SKYHELM_*` variable of every option in the tree, with its options and the first
/// one's help, then the others.
fn environment(cmd: &clap::Command) -> Vec<(String, String)> {
    /// Variable → (option → pages that have it), help.
    type Found = Vec<(String, Vec<(String, Vec<String>)>, String)>;
    fn walk(cmd: &clap::Command, out: &mut Found) {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let (Some(var), Some(long)) = (arg.get_env(), arg.get_long()) else { continue };
            let var = var.to_string_lossy().into_owned();
            let option = format!("--{long}");
            let page = display_name(cmd).to_string();
            match out.iter_mut().find(|(v, _, _)| *v == var) {
                Some((_, options, _)) => match options.iter_mut().find(|(o, _)| *o == option) {
                    Some((_, pages)) => pages.push(page),
                    None => options.push((option, vec![page])),
                },
                None => {
                    let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                    out.push((var, vec![(option, vec![page])], help));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut found = Found::new();
    walk(cmd, &mut found);
    let mut out: Vec<(String, String)> = found
        .into_iter()
        .map(|(var, options, help)| {
            let options: Vec<String> = options.iter().map(|(o, pages)| format!("{o} ({})", pages.join(", "))).collect();
            (var, format!("The default of {}. {}", options.join("; "), help.trim_end_matches('.')) + ".")
        })
        .collect();
    out.sort();
    out.extend(OTHER_ENVIRONMENT.iter().map(|(v, t)| ((*v).to_string(), (*t).to_string())));
    out
}

/// roff text: a backslash as `\e`, a line starting with `.` or `'` protected.
fn escape(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e").replace('-', "\\-");
            if l.starts_with('.') || l.starts_with('\'') { format!("\\&{l}") } else { l }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn section(out: &mut Vec<u8>, title: &str, paragraphs: &[(Option<&str>, &str)]) {
    out.extend_from_slice(format!(".SH \"{title}\"\n").as_bytes());
    for (tag, text) in paragraphs {
        match tag {
            Some(t) => out.extend_from_slice(format!(".TP\n\\fB{}\\fR\n{}\n", escape(t), escape(text)).as_bytes()),
            None => out.extend_from_slice(format!(".PP\n{}\n", escape(text)).as_bytes()),
        }
    }
}

fn page(cmd: &clap::Command, env: &[(String, String)], names: &[String]) -> Result<Vec<u8>, std::io::Error> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    let exit: Vec<(Option<&str>, &str)> = vec![
        (Some("0"), "Success; `diff`: nothing would change; `doctor`: no error finding."),
        (
            Some("1"),
            "An error: bad input, a file that cannot be read or written, a usage error (an unknown option, a bad value) on every subcommand, an error finding of `doctor`, differences found by `generate --check`. Nothing is written to stdout, except the JSON error object when --output json was asked.",
        ),
        (Some("2"), "`diff` only: post-render would change something."),
        (Some("70"), "Internal error (a bug); nothing was written to stdout."),
    ];
    section(&mut out, "EXIT STATUS", &exit);
    let env: Vec<(Option<&str>, &str)> = env.iter().map(|(v, t)| (Some(v.as_str()), t.as_str())).collect();
    section(&mut out, "ENVIRONMENT", &env);
    let files: Vec<(Option<&str>, &str)> = FILES.lines().map(|l| (None, l)).collect();
    section(&mut out, "FILES", &files);
    let me = display_name(cmd);
    let see: Vec<String> = names.iter().filter(|n| *n != me).map(|n| format!("\\fB{n}\\fR(1)")).collect();
    out.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", see.join(", ")).as_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_subcommand_each_with_the_sections() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in ["skyhelm.1", "skyhelm-diff.1", "skyhelm-kubeconfig-pack.1", "skyhelm-helm-plugin-install.1"] {
            assert!(names.contains(&want), "{names:?}");
        }
        for (name, page) in &pages {
            let page = String::from_utf8_lossy(page);
            for s in ["EXIT STATUS", "ENVIRONMENT", "FILES", "SKYHELM_MAX_DEPTH", "KUBECONFIG"] {
                assert!(page.contains(s), "{name} lacks {s}");
            }
        }
    }
}
