//! `skyhelm doctor`: checks a kubeconfig before it becomes the API server's Secret.
//! Errors are what cannot work in the pod; warnings are what may work but needs a look.
//! No finding ever contains a credential.

use std::collections::BTreeMap;

use base64::Engine;
use kube::config::Kubeconfig;
use secrecy::ExposeSecret;
use serde::Serialize;

use super::cert;
use crate::change::Severity;
use crate::contexts::{self, AllowedList, ContextFacts, NameClass};

pub const EXPIRY_WARNING_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable identifier of the check, for scripts.
    pub check: &'static str,
    /// `context NAME`, `cluster NAME`, `user NAME`, or `kubeconfig`.
    pub subject: String,
    pub message: String,
}

pub struct DoctorInput<'a> {
    pub path: &'a str,
    pub text: &'a [u8],
    /// The allowed lists, when known (from --allowed-context or the manifests).
    pub allowed: Option<Vec<(String, AllowedList)>>,
    pub in_cluster_name: String,
    /// Whether the API server pod gets a service-account token, when known.
    pub in_cluster_exists: Option<bool>,
    /// Unix seconds to check expiry against.
    pub now: i64,
}

fn finding(severity: Severity, check: &'static str, subject: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding { severity, check, subject: subject.into(), message: message.into() }
}

pub fn doctor(input: &DoctorInput) -> Vec<Finding> {
    let mut out = Vec::new();
    let text = match std::str::from_utf8(input.text) {
        Ok(t) => t,
        Err(e) => {
            let (line, col) = crate::stream::line_col(input.text, e.valid_up_to());
            out.push(finding(
                Severity::Error,
                "parse",
                "kubeconfig",
                format!("not UTF-8 at line {line}, column {col}"),
            ));
            return out;
        }
    };
    let config = match Kubeconfig::from_yaml(text) {
        Ok(c) => c,
        Err(e) => {
            out.push(finding(Severity::Error, "parse", "kubeconfig", super::scrub(&e.to_string())));
            return out;
        }
    };
    check_structure(&config, &mut out);
    check_clusters(&config, input.now, &mut out);
    check_users(&config, input.now, &mut out);
    check_contexts(&config, input, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

/// doctor for a contexts file (`kubeconfig pack --contexts-file`): the allowed names against
/// its contexts, its current-context, and the exec plugins and loopback servers it records.
pub fn doctor_contexts_file(file: &super::contexts_file::ContextsFile, input: &DoctorInput) -> Vec<Finding> {
    let config = super::LoadedKubeconfig::names_of(file).config;
    let mut out = Vec::new();
    if file.current_context.is_none() {
        out.push(finding(
            Severity::Error,
            "current-context",
            "kubeconfig",
            "current-context is not set; with an unset allowed_contexts SkyPilot would have no context to use",
        ));
    }
    out.extend(file.findings(&file.context_names()));
    check_contexts(&config, input, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

fn duplicates<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = BTreeMap::new();
    for n in names {
        *seen.entry(n).or_insert(0) += 1;
    }
    seen.into_iter().filter(|(_, c)| *c > 1).map(|(n, _)| n).collect()
}

fn check_structure(c: &Kubeconfig, out: &mut Vec<Finding>) {
    for (what, names) in [
        ("context", duplicates(c.contexts.iter().map(|x| x.name.as_str()))),
        ("cluster", duplicates(c.clusters.iter().map(|x| x.name.as_str()))),
        ("user", duplicates(c.auth_infos.iter().map(|x| x.name.as_str()))),
    ] {
        for n in names {
            out.push(finding(
                Severity::Error,
                "duplicate-name",
                format!("{what} {n}"),
                format!("two {what}s are named `{n}`; only the first is used"),
            ));
        }
    }
    for ctx in &c.contexts {
        let subject = format!("context {}", ctx.name);
        let Some(inner) = &ctx.context else {
            out.push(finding(Severity::Error, "dangling-reference", subject, "the context has no cluster or user"));
            continue;
        };
        if !c.clusters.iter().any(|cl| cl.name == inner.cluster) {
            out.push(finding(
                Severity::Error,
                "dangling-reference",
                subject.clone(),
                format!("names cluster `{}`, which is not in the kubeconfig", inner.cluster),
            ));
        }
        match &inner.user {
            Some(u) if !c.auth_infos.iter().any(|a| &a.name == u) => {
                out.push(finding(
                    Severity::Error,
                    "dangling-reference",
                    subject,
                    format!("names user `{u}`, which is not in the kubeconfig"),
                ));
            }
            _ => {}
        }
    }
    match c.current_context.as_deref().filter(|s| !s.is_empty()) {
        None => out.push(finding(
            Severity::Error,
            "current-context",
            "kubeconfig",
            "current-context is not set; with an unset allowed_contexts SkyPilot would have no context to use",
        )),
        Some(cur) if !c.contexts.iter().any(|x| x.name == cur) => {
            out.push(finding(
                Severity::Error,
                "current-context",
                "kubeconfig",
                format!("current-context `{cur}` is not a context of the kubeconfig"),
            ));
        }
        _ => {}
    }
}

/// Checks a `*-data` field: base64 of PEM, with the expected blocks, certificates not expired.
fn check_data(subject: &str, field: &str, value: &str, want_cert: bool, now: i64, out: &mut Vec<Finding>) {
    let bytes = match base64::engine::general_purpose::STANDARD.decode(value.trim()) {
        Ok(b) => b,
        Err(_) => {
            out.push(finding(Severity::Error, "data-not-pem", subject, format!("{field} is not base64")));
            return;
        }
    };
    let blocks = pem::parse_many(&bytes).unwrap_or_default();
    let ok = if want_cert {
        blocks.iter().any(|b| b.tag() == "CERTIFICATE")
    } else {
        blocks.iter().any(|b| b.tag().ends_with("PRIVATE KEY"))
    };
    if !ok {
        let wanted = if want_cert { "a PEM certificate" } else { "a PEM private key" };
        out.push(finding(
            Severity::Error,
            "data-not-pem",
            subject,
            format!("{field} is base64 but does not hold {wanted}"),
        ));
        return;
    }
    for b in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
        let Some(after) = cert::not_after(b.contents()) else {
            out.push(finding(
                Severity::Error,
                "data-not-pem",
                subject,
                format!("{field} holds a certificate that cannot be read"),
            ));
            continue;
        };
        let date = cert::format_date(after);
        if after <= now {
            out.push(finding(
                Severity::Error,
                "certificate-expired",
                subject,
                format!("{field}: certificate expired on {date}"),
            ));
        } else if after - now < EXPIRY_WARNING_DAYS * 86_400 {
            out.push(finding(
                Severity::Warning,
                "certificate-expiring",
                subject,
                format!("{field}: certificate expires on {date}, within {EXPIRY_WARNING_DAYS} days"),
            ));
        }
    }
}

fn file_ref(subject: &str, field: &str, path: &str, out: &mut Vec<Finding>) {
    out.push(finding(
        Severity::Error,
        "file-reference",
        subject,
        format!("{field} points to the file {path}, which will not exist inside the API server pod; inline it (`skyhelm kubeconfig pack` does)"),
    ));
}

fn check_clusters(c: &Kubeconfig, now: i64, out: &mut Vec<Finding>) {
    for cl in &c.clusters {
        let subject = format!("cluster {}", cl.name);
        let Some(info) = &cl.cluster else { continue };
        if let Some(p) = &info.certificate_authority {
            file_ref(&subject, "certificate-authority", p, out);
        }
        if let Some(d) = &info.certificate_authority_data {
            check_data(&subject, "certificate-authority-data", d, true, now, out);
        }
        if let Some(host) = info.server.as_deref().and_then(loopback_host) {
            out.push(loopback_finding(&subject, &host));
        }
        if info.insecure_skip_tls_verify == Some(true) {
            out.push(finding(
                Severity::Warning,
                "insecure-skip-tls-verify",
                subject,
                "insecure-skip-tls-verify is set: the server's certificate is not checked",
            ));
        }
    }
}

/// The host of a server URL when it is a loopback address (127.0.0.0/8, ::1, localhost): from
/// inside the API server pod that is the pod itself, not the cluster. Only the host is
/// returned (never user information a URL may carry).
pub fn loopback_host(server: &str) -> Option<String> {
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default().to_string()
    } else {
        hostport.rsplit_once(':').map_or(hostport, |(h, _)| h).to_string()
    };
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    let loopback = lower == "localhost"
        || lower.ends_with(".localhost")
        || lower.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
            std::net::IpAddr::V4(v4) => v4.is_loopback(),
            std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        });
    loopback.then_some(host)
}

/// The `loopback-server` warning for a cluster (or a context's cluster) at `host`.
pub fn loopback_finding(subject: &str, host: &str) -> Finding {
    finding(
        Severity::Warning,
        "loopback-server",
        subject,
        format!(
            "the server is on the loopback address `{host}`: inside the API server pod that is the pod itself, not this cluster"
        ),
    )
}

fn check_users(c: &Kubeconfig, now: i64, out: &mut Vec<Finding>) {
    for u in &c.auth_infos {
        let subject = format!("user {}", u.name);
        let Some(a) = &u.auth_info else { continue };
        if let Some(p) = &a.client_certificate {
            file_ref(&subject, "client-certificate", p, out);
        }
        if let Some(p) = &a.client_key {
            file_ref(&subject, "client-key", p, out);
        }
        if let Some(p) = &a.token_file {
            file_ref(&subject, "tokenFile", p, out);
        }
        if let Some(d) = &a.client_certificate_data {
            check_data(&subject, "client-certificate-data", d, true, now, out);
        }
        if let Some(d) = &a.client_key_data {
            check_data(&subject, "client-key-data", d.expose_secret(), false, now, out);
        }
        if let Some(exec) = &a.exec {
            let cmd = exec.command.clone().unwrap_or_default();
            out.push(finding(
                Severity::Warning,
                "exec-plugin",
                subject.clone(),
                format!("authenticates with the exec plugin `{cmd}`: the API server image must contain it (and its cloud credentials); SkyPilot's docs recommend a static-token kubeconfig"),
            ));
        }
        if let Some(p) = &a.auth_provider {
            out.push(finding(
                Severity::Warning,
                "auth-provider",
                subject,
                format!("uses the deprecated auth-provider `{}`, which needs its plugin inside the pod", p.name),
            ));
        }
    }
}

fn check_contexts(c: &Kubeconfig, input: &DoctorInput, out: &mut Vec<Finding>) {
    let names: Vec<String> = c.contexts.iter().map(|x| x.name.clone()).collect();
    if names.contains(&input.in_cluster_name) && input.in_cluster_exists != Some(false) {
        out.push(finding(
            Severity::Warning,
            "shadowed-context",
            format!("context {}", input.in_cluster_name),
            format!("named like the in-cluster context: inside the pod `{}` means the pod's own service account, not this context", input.in_cluster_name),
        ));
    }
    let Some(lists) = &input.allowed else {
        out.push(finding(
            Severity::Info,
            "allowed-unknown",
            "kubeconfig",
            "no allowed list given (--allowed-context or --manifests): not checking which contexts are allowed",
        ));
        return;
    };
    let facts = ContextFacts {
        in_cluster_name: input.in_cluster_name.clone(),
        in_cluster_exists: input.in_cluster_exists.unwrap_or(true),
        kubeconfig_mounted: true,
        kubeconfig_contexts: Some(names.clone()),
        current_context: c.current_context.clone(),
        allow_unknown: false,
    };
    let mut used: Vec<String> = Vec::new();
    let mut all = false;
    for (list, value) in lists {
        match value.used_kubeconfig_contexts(&facts) {
            None => all = true,
            Some(v) => used.extend(v),
        }
        let AllowedList::Names(items) = value else { continue };
        for name in items {
            match contexts::classify(name, &facts) {
                NameClass::Unknown(suggestions) => {
                    let hint = if suggestions.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (did you mean {}?)",
                            suggestions.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(" or ")
                        )
                    };
                    out.push(finding(
                        Severity::Error,
                        "allowed-not-found",
                        format!("context {name}"),
                        format!("{list} names `{name}`, which matches no context{hint}; SkyPilot would skip it"),
                    ));
                }
                NameClass::CaseOf(real) => {
                    out.push(finding(
                        Severity::Error,
                        "allowed-not-found",
                        format!("context {name}"),
                        format!(
                            "{list} names `{name}`, but the context is `{real}` (names match exactly, case included)"
                        ),
                    ));
                }
                NameClass::AmbiguousCase(c) => {
                    out.push(finding(
                        Severity::Error,
                        "allowed-not-found",
                        format!("context {name}"),
                        format!(
                            "{list} names `{name}`, which matches no context exactly ({} differ in case)",
                            c.join(", ")
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    if !all {
        for n in names.iter().filter(|n| !used.contains(n) && **n != input.in_cluster_name) {
            out.push(finding(Severity::Warning, "context-not-allowed", format!("context {n}"), "not allowed by any allowed_contexts list: its credentials would be shipped for nothing; leave it out (`skyhelm kubeconfig pack`)"));
        }
    }
}

/// The human table, grouped by severity.
pub fn render_table(path: &str, findings: &[Finding]) -> String {
    let mut s = format!("skyhelm doctor: {path}\n");
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        s.push_str(&format!("\n{}S\n", sev.label().to_uppercase()));
        let w = group.iter().map(|f| f.subject.len()).max().unwrap_or(0);
        let cw = group.iter().map(|f| f.check.len()).max().unwrap_or(0);
        for f in group {
            s.push_str(&format!("  {:w$}  {:cw$}  {}\n", f.subject, f.check, f.message));
        }
    }
    let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
    s.push_str(&format!(
        "\n{} errors, {} warnings, {} notes\n",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers() {
        for s in [
            "https://127.0.0.1:6443",
            "https://127.1.2.3",
            "https://localhost:6443/",
            "https://LOCALHOST.",
            "https://[::1]:6443",
            "https://[::ffff:127.0.0.1]:443",
            "https://user:pw@127.0.0.1",
            "localhost:8080",
        ] {
            assert!(loopback_host(s).is_some(), "{s}");
        }
        for s in
            ["https://10.0.0.1", "https://example.com", "https://[2001:db8::1]:443", "https://localhost.example.com"]
        {
            assert_eq!(loopback_host(s), None, "{s}");
        }
        assert_eq!(loopback_host("https://user:pw@127.0.0.1:6443").as_deref(), Some("127.0.0.1"));
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    kubeconfig: &'a str,
    findings: &'a [Finding],
    errors: usize,
    warnings: usize,
}

pub fn render_json(path: &str, findings: &[Finding]) -> String {
    let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
    let report =
        JsonReport { kubeconfig: path, findings, errors: count(Severity::Error), warnings: count(Severity::Warning) };
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}
