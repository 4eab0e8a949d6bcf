//! `skyhelm doctor`: checks a kubeconfig before it becomes the API server's Secret.
//! Errors are what cannot work in the pod; warnings are what may work but needs a look; notes
//! are about contexts no allowed list uses (nothing in the pod reads them).
//! No finding ever contains a credential.
//!
//! One classification of "unusable in the pod" ([`unusable_in_pod`]): a finding of
//! [`context_findings`] with severity Error (a file reference, a loopback server, a certificate
//! that is expired or cannot be read, a key that is not the certificate's). doctor exits 1 for
//! them, post-render and diff fail on them unless `--allow-unusable-contexts`. Exec plugins and
//! auth-providers stay warnings: whether they work depends on the API server image (SkyPilot's
//! image ships cloud CLIs; the Python client SkyPilot uses handles the `gcp`, `azure` and `oidc`
//! auth-providers itself), which skyhelm cannot see.

use std::collections::BTreeMap;

use base64::Engine;
use kube::config::{Kubeconfig, NamedAuthInfo, NamedCluster};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::cert;
use crate::model::Severity;
use crate::policy::contexts::{self, AllowedList, ContextEnv, ContextFacts, NameClass};

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
    /// The manifests set `SKYPILOT_DB_CONNECTION_URI`: the allowed lists are in that database.
    pub external_database: bool,
    /// SkyPilot's other context settings on the API container (from the manifests).
    pub env: ContextEnv,
}

impl DoctorInput<'_> {
    /// Whether a context named like the in-cluster context is the pod's own (as
    /// [`context_findings`] takes it): never when the name is not known at render time.
    fn in_cluster_shadows(&self) -> Option<bool> {
        if self.env.in_cluster_name_unknown.is_some() { Some(false) } else { self.in_cluster_exists }
    }
}

/// The most of a finding's message that is shown (its own words and the names it quotes).
const MAX_FINDING_CHARS: usize = 4 * crate::messages::MAX_MESSAGE_CHARS;

/// A finding's subject (`context NAME`, `user NAME`) as findings carry it: safe to show.
pub fn finding_subject(subject: &str) -> String {
    crate::messages::sanitize(subject, &[])
}

/// A finding. Its subject and message name what a kubeconfig, a contexts file or a server
/// chose (names, paths, references), so both are made safe to show here, once for every
/// check (`messages::sanitize`): no terminal escapes, direction marks or unbounded text.
pub fn finding(severity: Severity, check: &'static str, subject: impl AsRef<str>, message: impl AsRef<str>) -> Finding {
    Finding {
        severity,
        check,
        subject: finding_subject(subject.as_ref()),
        message: crate::messages::sanitize_capped(message.as_ref(), &[], MAX_FINDING_CHARS),
    }
}

/// A kubeconfig or contexts file without a current-context.
pub(super) fn current_context_unset() -> Finding {
    finding(
        Severity::Error,
        "current-context",
        "kubeconfig",
        "current-context is not set; with an unset allowed_contexts SkyPilot would have no context to use",
    )
}

/// The server of a URL, as shown in findings (never user information), when it is a loopback
/// address (used for contexts files, which record each context's server).
pub fn loopback_host(server: &str) -> Option<String> {
    // The port part is any text up to `/`: control characters are escaped before it is shown.
    server_host(server).filter(|(_, host)| is_loopback(host)).map(|(shown, _)| crate::messages::sanitize(&shown, &[]))
}

/// The `loopback-server` error for `subject`, whose server `shown` is a loopback address.
pub fn loopback_finding(subject: &str, shown: &str) -> Finding {
    finding(
        Severity::Error,
        "loopback-server",
        subject,
        format!(
            "server {shown} is a loopback address: inside the API server pod it reaches the pod itself, not this cluster; use an address the pod can reach"
        ),
    )
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
            out.push(finding(Severity::Error, "parse", "kubeconfig", super::parse_message(&e)));
            return out;
        }
    };
    check_structure(&config, &mut out);
    check_entries(&config, input, &mut out);
    check_allowed_contexts(&config, input, &mut out);
    demote_unused(&config, input, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

/// Whether a finding of [`context_findings`] (or of a contexts file) makes the context unusable
/// inside the API server pod: the one classification doctor, post-render and diff share.
pub fn unusable_in_pod(f: &Finding) -> bool {
    f.severity == Severity::Error
}

/// The contexts the allowed lists use (their kubeconfig contexts), or None when every context
/// counts: no list is known, or one is `all`.
fn used_contexts(c: &Kubeconfig, input: &DoctorInput) -> Option<Vec<String>> {
    contexts::used_by_lists(input.allowed.as_ref()?, &input_facts(c, input))
}

fn input_facts(c: &Kubeconfig, input: &DoctorInput) -> ContextFacts {
    ContextFacts {
        in_cluster_name: input.in_cluster_name.clone(),
        in_cluster_exists: input.in_cluster_exists.unwrap_or(true),
        kubeconfig_mounted: true,
        kubeconfig_contexts: Some(c.contexts.iter().map(|x| x.name.clone()).collect()),
        current_context: c.current_context.clone(),
        allow_unknown: false,
        env: input.env.clone(),
    }
}

/// Findings about a context no allowed list uses become notes: nothing in the pod reads it.
/// (`context-not-allowed` and `allowed-not-found` are about the lists themselves and stay.)
pub(super) fn demote_unused(c: &Kubeconfig, input: &DoctorInput, out: &mut [Finding]) {
    let Some(used) = used_contexts(c, input) else { return };
    let used: Vec<String> = used.iter().map(|n| finding_subject(&format!("context {n}"))).collect();
    for f in out.iter_mut() {
        if f.subject.starts_with("context ")
            && !used.contains(&f.subject)
            && !matches!(f.check, "context-not-allowed" | "allowed-not-found")
            && f.severity != Severity::Info
        {
            f.severity = Severity::Info;
            f.message = format!("not used by any allowed list: {}", f.message);
        }
    }
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
        None => out.push(current_context_unset()),
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
fn check_data(subject: &str, field: &str, value: &str, want: cert::PemWant, now: i64, out: &mut Vec<Finding>) {
    let bytes = match base64::engine::general_purpose::STANDARD.decode(value.trim()) {
        Ok(b) => b,
        Err(_) => {
            out.push(finding(Severity::Error, "data-not-pem", subject, format!("{field} is not base64")));
            return;
        }
    };
    if let Some(problem) = cert::pem_problem(&bytes, want) {
        out.push(finding(Severity::Error, "data-not-pem", subject, format!("{field} is base64 but {problem}")));
        return;
    }
    let blocks = pem::parse_many(&bytes).unwrap_or_default();
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

/// Doctor's checks of one context as the API server pod would use it, in one place for
/// `doctor` and post-render: the context's cluster (file references, certificates,
/// insecure-skip-tls-verify, a loopback server) and user (file references, certificates, exec
/// plugins, auth-providers). A context named like the in-cluster context gets only that finding:
/// inside the pod the name means the pod's own service account, so its cluster and user are
/// not used. A missing cluster or user gives nothing here (`dangling-reference` reports it).
pub fn context_findings(
    config: &Kubeconfig,
    context: &str,
    in_cluster_name: &str,
    in_cluster_exists: Option<bool>,
    now: i64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if context == in_cluster_name && in_cluster_exists != Some(false) {
        out.push(finding(
            Severity::Warning,
            "shadowed-context",
            format!("context {context}"),
            format!("named like the in-cluster context: inside the pod `{context}` means the pod's own service account, not this context"),
        ));
        return out;
    }
    let (cluster, user) = context_entries(config, context);
    if let Some(cl) = cluster.and_then(|i| config.clusters.get(i)) {
        check_cluster(cl, now, &mut out);
    }
    if let Some(u) = user.and_then(|i| config.auth_infos.get(i)) {
        check_user(u, now, &mut out);
    }
    out
}

/// Indexes of the cluster and user a context uses (the first of each name, as clients do).
pub fn context_entries(config: &Kubeconfig, context: &str) -> (Option<usize>, Option<usize>) {
    let Some(inner) = config.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.as_ref()) else {
        return (None, None);
    };
    let cluster = config.clusters.iter().position(|c| c.name == inner.cluster);
    let user = inner.user.as_ref().and_then(|u| config.auth_infos.iter().position(|a| &a.name == u));
    (cluster, user)
}

/// A finding of a context's cluster or user, named by the context (the subject) and the
/// entry (the message's start): `context prod` / ``user `gke`: …``.
pub fn of_context(context: &str, f: Finding) -> Finding {
    if f.subject.starts_with("context ") {
        return f;
    }
    let message = match f.subject.split_once(' ') {
        Some((what, name)) => format!("{what} `{name}`: {}", f.message),
        None => f.message,
    };
    Finding { subject: finding_subject(&format!("context {context}")), message, ..f }
}

/// Every context through [`context_findings`], each finding named by its context; then the
/// clusters and users no context uses, with the same checks, as notes (the Secret ships them,
/// but nothing in the pod reads them).
fn check_entries(c: &Kubeconfig, input: &DoctorInput, out: &mut Vec<Finding>) {
    let (mut clusters, mut users) = (vec![false; c.clusters.len()], vec![false; c.auth_infos.len()]);
    for ctx in &c.contexts {
        for f in context_findings(c, &ctx.name, &input.in_cluster_name, input.in_cluster_shadows(), input.now) {
            let f = of_context(&ctx.name, f);
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if ctx.name == input.in_cluster_name && input.in_cluster_shadows() != Some(false) {
            continue;
        }
        let (cl, u) = context_entries(c, &ctx.name);
        for (seen, i) in [(&mut clusters, cl), (&mut users, u)] {
            if let Some(flag) = i.and_then(|i| seen.get_mut(i)) {
                *flag = true;
            }
        }
    }
    let mut orphans = Vec::new();
    for (cl, _) in c.clusters.iter().zip(&clusters).filter(|(_, seen)| !**seen) {
        check_cluster(cl, input.now, &mut orphans);
    }
    for (u, _) in c.auth_infos.iter().zip(&users).filter(|(_, seen)| !**seen) {
        check_user(u, input.now, &mut orphans);
    }
    out.extend(orphans.into_iter().map(|f| Finding {
        severity: Severity::Info,
        message: format!("used by no context: {}", f.message),
        ..f
    }));
}

fn check_cluster(cl: &NamedCluster, now: i64, out: &mut Vec<Finding>) {
    let subject = format!("cluster {}", cl.name);
    let Some(info) = &cl.cluster else { return };
    if let Some(p) = &info.certificate_authority {
        file_ref(&subject, "certificate-authority", p, out);
    }
    if let Some(d) = &info.certificate_authority_data {
        check_data(&subject, "certificate-authority-data", d, cert::PemWant::Certificate, now, out);
    }
    if info.insecure_skip_tls_verify == Some(true) {
        out.push(finding(
            Severity::Warning,
            "insecure-skip-tls-verify",
            subject.clone(),
            "insecure-skip-tls-verify is true: the server's certificate is not checked",
        ));
    }
    if let Some(shown) = info.server.as_deref().and_then(loopback_host) {
        out.push(loopback_finding(&subject, &shown));
    }
}

fn check_user(u: &NamedAuthInfo, now: i64, out: &mut Vec<Finding>) {
    let subject = format!("user {}", u.name);
    let Some(a) = &u.auth_info else { return };
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
        check_data(&subject, "client-certificate-data", d, cert::PemWant::Certificate, now, out);
    }
    if let Some(d) = &a.client_key_data {
        check_data(&subject, "client-key-data", d.expose_secret(), cert::PemWant::PrivateKey, now, out);
    }
    if let (Some(c), Some(k)) = (&a.client_certificate_data, &a.client_key_data) {
        let decode = |v: &str| base64::engine::general_purpose::STANDARD.decode(v.trim()).ok();
        if let (Some(c), Some(k)) = (decode(c), decode(k.expose_secret()))
            && super::identity::key_matches(&c, &k) == Some(false)
        {
            out.push(finding(
                Severity::Error,
                "key-mismatch",
                subject.clone(),
                "client-key-data is not the key of client-certificate-data (their public keys differ)",
            ));
        }
    }
    if let Some(exec) = &a.exec {
        let cmd = match exec.command.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => format!("exec.command `{}`", crate::messages::sanitize(c, &[])),
            None => "exec.command unset".to_string(),
        };
        out.push(finding(
            Severity::Warning,
            "exec-plugin",
            subject.clone(),
            format!("authenticates with an exec plugin ({cmd}): the API server image must contain this command (and the credentials it uses); SkyPilot's docs recommend a static-token kubeconfig"),
        ));
    }
    if let Some(p) = &a.auth_provider {
        out.push(finding(
            Severity::Warning,
            "auth-provider",
            subject,
            format!(
                "uses the deprecated auth-provider `{}`, which needs its plugin inside the API server image",
                crate::messages::sanitize(&p.name, &[])
            ),
        ));
    }
}

/// A server URL as it may be shown (scheme, host and port: no user info, path or query) and
/// its host (without brackets or an IPv6 zone).
/// A server URL's scheme and the rest. A scheme is letters, digits, `+`, `-`, `.` after a
/// letter; anything else before `://` is part of the authority (and may hold user info).
pub fn split_scheme(server: &str) -> (Option<&str>, &str) {
    let is_scheme = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    match server.split_once("://") {
        Some((s, r)) if is_scheme(s) => (Some(s), r),
        _ => (None, server),
    }
}

fn server_host(server: &str) -> Option<(String, &str)> {
    let (scheme, rest) = split_scheme(server.trim());
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']')?;
        (inside, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let bare = host.split('%').next().unwrap_or(host);
    let mut shown = scheme.map(|s| format!("{s}://")).unwrap_or_default();
    if authority.starts_with('[') {
        shown.push_str(&format!("[{host}]"));
    } else {
        shown.push_str(host);
    }
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        shown.push_str(&format!(":{p}"));
    }
    Some((shown, bare))
}

/// Whether a host is the pod itself: `localhost` (any case, with or without the final dot),
/// the names a pod's /etc/hosts gives ::1 (`ip6-localhost`, `ip6-loopback`), 127.0.0.0/8,
/// ::1, IPv4-mapped ::ffff:127.x, and 0.0.0.0 and `::`, which connect to the local host. IPv4
/// also in the short forms the C resolver accepts (`127.1`, `0x7f.1`, `2130706433`): SkyPilot
/// is Python, which resolves with getaddrinfo.
pub fn is_loopback(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if matches!(name.as_str(), "localhost" | "ip6-localhost" | "ip6-loopback") {
        return true;
    }
    if let Ok(v6) = host.parse::<std::net::Ipv6Addr>() {
        return v6.is_loopback() || v6.is_unspecified() || v6.to_ipv4_mapped().is_some_and(v4_is_local);
    }
    inet_aton(host).is_some_and(v4_is_local)
}

fn v4_is_local(ip: std::net::Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// IPv4 as inet_aton(3) reads it: 1 to 4 parts, each decimal, octal (`0`…) or hex (`0x`…), the
/// last part filling the remaining bytes.
fn inet_aton(s: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<u32> = s
        .split('.')
        .map(|p| {
            let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
                (h, 16)
            } else if p.len() > 1 && p.starts_with('0') {
                (&p[1..], 8)
            } else {
                (p, 10)
            };
            if digits.is_empty() && radix != 16 || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            if digits.is_empty() { Some(0) } else { u32::from_str_radix(digits, radix).ok() }
        })
        .collect::<Option<_>>()?;
    let (last, head) = parts.split_last()?;
    if head.len() > 3 || head.iter().any(|&b| b > 255) || u64::from(*last) >= 1u64 << (8 * (4 - head.len())) {
        return None;
    }
    let value = head.iter().enumerate().fold(*last, |acc, (i, &b)| acc | (b << (24 - 8 * i)));
    Some(std::net::Ipv4Addr::from(value))
}

/// The allowed lists (from `--allowed-context` or the rendered chart) against the kubeconfig's
/// contexts (static; `live::client::check_contexts` is the one that contacts them).
pub(super) fn check_allowed_contexts(c: &Kubeconfig, input: &DoctorInput, out: &mut Vec<Finding>) {
    let names: Vec<String> = c.contexts.iter().map(|x| x.name.clone()).collect();
    if let Some(source) = &input.env.in_cluster_name_unknown
        && input.in_cluster_exists != Some(false)
    {
        out.push(finding(
            Severity::Warning,
            "in-cluster-name-unknown",
            "API server",
            format!("{} comes from {source}, which cannot be known at render time: no context can be checked for being shadowed by the in-cluster context, and names that match no context may be it", contexts::IN_CLUSTER_NAME_ENV),
        ));
    }
    let Some(lists) = &input.allowed else {
        if input.external_database {
            out.push(finding(
                Severity::Info,
                "external-database",
                "kubeconfig",
                format!("{} is set on the API server: SkyPilot keeps its config, allowed_contexts included, in that database, not in the chart; not checking which contexts are allowed (name them with --allowed-context to check a list)", crate::policy::contexts::DB_ENV),
            ));
            return;
        }
        out.push(finding(
            Severity::Info,
            "allowed-unknown",
            "kubeconfig",
            "no allowed list given (--allowed-context or --manifests): not checking which contexts are allowed",
        ));
        return;
    };
    let facts = input_facts(c, input);
    let used = contexts::used_by_lists(lists, &facts);
    for (list, value) in lists {
        let AllowedList::Names(items) = value else { continue };
        for name in items {
            let message = match contexts::classify(name, &facts) {
                NameClass::Unknown(suggestions) => {
                    let hint = crate::messages::did_you_mean(&suggestions);
                    format!("{list} names `{name}`, which matches no context{hint}; SkyPilot would skip it")
                }
                NameClass::CaseOf(real) => {
                    format!("{list} names `{name}`, but the context is `{real}` (names match exactly, case included)")
                }
                NameClass::AmbiguousCase(c) => {
                    format!("{list} names `{name}`, which matches no context exactly ({} differ in case)", c.join(", "))
                }
                _ => continue,
            };
            out.push(finding(Severity::Error, "allowed-not-found", format!("context {name}"), message));
        }
    }
    if let Some(used) = used {
        for n in names.iter().filter(|n| !used.contains(n) && **n != input.in_cluster_name) {
            out.push(finding(Severity::Warning, "context-not-allowed", format!("context {n}"), "not allowed by any allowed_contexts list: its credentials would be shipped for nothing; leave it out (`skyhelm kubeconfig pack`)"));
        }
    }
}

/// The human table, grouped by severity.
/// The table; with `color`, painted as `diff` paints its report (errors red, warnings
/// yellow, notes cyan, the header bold).
pub fn render_table(path: &str, findings: &[Finding], color: bool) -> String {
    const RESET: &str = "\x1b[0m";
    let paint = |code: &str, text: String| if color { format!("{code}{text}{RESET}") } else { text };
    let mut s = paint("\x1b[1m", format!("skyhelm doctor: {path}")) + "\n";
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let code = match sev {
            Severity::Error => "\x1b[31m",
            Severity::Warning => "\x1b[33m",
            Severity::Info => "\x1b[36m",
        };
        s.push_str(&format!("\n{}\n", paint(&format!("\x1b[1m{code}"), format!("{}S", sev.label().to_uppercase()))));
        let w = group.iter().map(|f| f.subject.len()).max().unwrap_or(0);
        let cw = group.iter().map(|f| f.check.len()).max().unwrap_or(0);
        for f in group {
            let check = paint(code, format!("{:cw$}", f.check));
            s.push_str(&format!("  {:w$}  {check}  {}\n", f.subject, f.message));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "ip6-localhost",
            "127.0.0.1",
            "127.9.8.7",
            "::1",
            "0:0:0:0:0:0:0:1",
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "0.0.0.0",
            "::",
            "127.1",
            "0x7f.1",
            "2130706433",
            "0177.0.0.1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "128.0.0.1",
            "localhost.example.com",
            "mylocalhost",
            "::2",
            "::ffff:10.0.0.1",
            "1.2.3.4.5",
            "127.0.0.256",
            "08.0.0.1",
            "",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    proptest::proptest! {
        /// Any server string: no panic, and what is shown never holds the user info.
        #[test]
        fn any_server_is_shown_without_user_info(
            scheme in "(https?://)?",
            secret in "[a-z]{1,8}:[A-Za-z0-9]{1,12}@",
            host in "(\\[[0-9a-f:.%]{0,20}\\]|[0-9a-zA-Z.x]{0,20})",
            rest in "(:[0-9]{0,5})?(/[ -~]{0,10})?",
        ) {
            let server = format!("{scheme}{secret}{host}{rest}");
            if let Some((shown, h)) = server_host(&server) {
                proptest::prop_assert!(!shown.contains('@'), "{server} -> {shown}");
                let _ = is_loopback(h);
            }
            let _ = is_loopback(&host);
        }
    }

    #[test]
    fn server_hosts_never_show_user_info() {
        assert_eq!(
            server_host("https://u:secret@127.0.0.1:6443/path?x=1"),
            Some(("https://127.0.0.1:6443".into(), "127.0.0.1"))
        );
        assert_eq!(server_host("https://[::1%25lo]:6443"), Some(("https://[::1%25lo]:6443".into(), "::1")));
        assert_eq!(server_host("localhost:8080"), Some(("localhost:8080".into(), "localhost")));
        assert_eq!(server_host("https://"), None);
        // Found by the property test: user info before a `://` that is no scheme.
        assert_eq!(server_host("a:a@[]://!"), None);
    }
}
