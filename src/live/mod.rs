//! `doctor --live`: what SkyPilot needs of each allowed context, checked with
//! SelfSubjectAccessReview. This module is the pure part (the permissions and how results
//! become findings); the network calls live in `crate::live::client`.

pub mod client;

use base64::Engine;
use kube::config::{AuthInfo, Cluster, Kubeconfig};
use secrecy::ExposeSecret;

use crate::policy::contexts::{AllowedList, ContextEnv, ContextFacts};
use crate::policy::minimal_rbac::{self, MINIMAL_CLUSTER, MINIMAL_NAMESPACED, Perm};
use crate::rules::change::Severity;

use crate::kubeconfig::doctor::{Finding, context_entries};

/// What doctor --live checks in a context whose namespace is `namespace`: every permission of
/// SkyPilot's minimal set (cloud-permissions/kubernetes, FACTS.md §3 RBAC;
/// `crate::policy::minimal_rbac::MINIMAL_NAMESPACED` in the namespace, `MINIMAL_CLUSTER`
/// cluster-wide), the same data `post-render --rbac add|audit|tighten` uses.
pub fn needed(namespace: &str) -> Vec<Perm> {
    let mut out = minimal_rbac::perms(MINIMAL_NAMESPACED, Some(namespace));
    out.extend(minimal_rbac::perms(MINIMAL_CLUSTER, None));
    out
}

/// `create pods/exec in namespace NS`, `list nodes (cluster-wide)`.
pub fn describe(p: &Perm) -> String {
    match &p.namespace {
        Some(ns) => format!("{} {} in namespace {ns}", p.verb, p.resource),
        None => format!("{} {} (cluster-wide)", p.verb, p.resource),
    }
}

/// The outcome of checking one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveResult {
    /// Could not reach or authenticate to the API server.
    Unreachable(String),
    /// Not contacted: it would need an exec plugin or auth-provider and --allow-exec is off.
    NotChecked(String),
    /// Not contacted: it would send credentials over plain http.
    Insecure(String),
    /// Each permission and whether the identity has it.
    Checked { namespace: String, results: Vec<(Perm, Result<bool, String>)> },
}

/// The contexts `doctor --live` contacts: the contexts of `config` that the allowed lists use
/// (every one for a list that allows all), each once, in the lists' order.
pub fn contexts_to_check(
    config: &Kubeconfig,
    allowed: &[(String, AllowedList)],
    in_cluster_name: &str,
    env: &ContextEnv,
) -> Vec<String> {
    let names: Vec<String> = config.contexts.iter().map(|c| c.name.clone()).collect();
    let facts = ContextFacts {
        in_cluster_name: in_cluster_name.to_string(),
        env: env.clone(),
        current_context: config.current_context.clone(),
        kubeconfig_contexts: Some(names.clone()),
        ..Default::default()
    };
    let mut wanted = crate::policy::contexts::used_by_lists(allowed, &facts).unwrap_or_else(|| names.clone());
    let mut seen = Vec::new();
    wanted.retain(|n| {
        names.contains(n) && !seen.contains(n) && {
            seen.push(n.clone());
            true
        }
    });
    wanted
}

/// The API server's own account, which doctor --live cannot check: a warning that it must exist
/// when the manifests do not create it (`message` from `rules::rbac::external_account`).
pub fn account_finding(message: &str) -> Finding {
    crate::kubeconfig::doctor::finding(Severity::Warning, "live-account", "manifests", message)
}

pub fn findings(context: &str, result: &LiveResult) -> Vec<Finding> {
    let subject = format!("context {context}");
    let f = |severity, check, message: String| crate::kubeconfig::doctor::finding(severity, check, &subject, message);
    match result {
        LiveResult::Unreachable(why) => {
            vec![f(Severity::Error, "live-unreachable", format!("cannot check the context: {why}"))]
        }
        LiveResult::NotChecked(why) => {
            vec![f(Severity::Warning, "live-not-checked", format!("not checked: {why}"))]
        }
        LiveResult::Insecure(why) => vec![f(Severity::Error, "live-insecure", format!("not checked: {why}"))],
        LiveResult::Checked { namespace, results } => {
            let mut out: Vec<Finding> = results
                .iter()
                .filter_map(|(perm, r)| match r {
                    Ok(true) => None,
                    Ok(false) => Some(f(
                        Severity::Error,
                        "live-denied",
                        format!("the identity may not {}; SkyPilot needs it", describe(perm)),
                    )),
                    Err(e) => Some(f(Severity::Error, "live-error", format!("checking {}: {e}", describe(perm)))),
                })
                .collect();
            if out.is_empty() {
                out.push(f(
                    Severity::Info,
                    "live-ok",
                    format!(
                        "the identity has all {} permissions SkyPilot needs (namespace {namespace})",
                        results.len()
                    ),
                ));
            }
            out
        }
    }
}

fn user_of<'a>(config: &'a Kubeconfig, context: &str) -> Option<&'a AuthInfo> {
    config.auth_infos.get(context_entries(config, context).1?)?.auth_info.as_ref()
}

/// The cluster entry `context` uses, as clients find it (`doctor::context_entries`).
pub fn cluster_of<'a>(config: &'a Kubeconfig, context: &str) -> Option<&'a Cluster> {
    config.clusters.get(context_entries(config, context).0?)?.cluster.as_ref()
}

/// Why `context` must not be contacted, if it must not: an exec plugin or auth-provider without
/// `allow_exec` (running it is running a program named in the kubeconfig), or credentials that
/// would travel over plain `http://`.
pub fn precheck(config: &Kubeconfig, context: &str, allow_exec: bool) -> Option<LiveResult> {
    let user = user_of(config, context);
    if !allow_exec && let Some(u) = user {
        if let Some(exec) = &u.exec {
            let cmd = exec.command.as_deref().unwrap_or("?");
            return Some(LiveResult::NotChecked(format!(
                "the user authenticates with the exec plugin `{}`, which skyhelm runs only with --allow-exec",
                crate::messages::sanitize(cmd, &[])
            )));
        }
        if let Some(p) = &u.auth_provider {
            return Some(LiveResult::NotChecked(format!(
                "the user authenticates with the auth-provider `{}`, which skyhelm uses only with --allow-exec",
                crate::messages::sanitize(&p.name, &[])
            )));
        }
    }
    let plain = cluster_of(config, context)
        .and_then(|c| c.server.as_deref())
        .is_some_and(|s| s.trim_start().to_ascii_lowercase().starts_with("http://"));
    if plain && let Some(kind) = user.and_then(credential_kind) {
        return Some(LiveResult::Insecure(format!(
            "the server is plain http:// and the user has {kind}; skyhelm never sends credentials unencrypted (use https://)"
        )));
    }
    None
}

/// What kind of credential a user would send, if any.
fn credential_kind(u: &AuthInfo) -> Option<&'static str> {
    if u.token.is_some() || u.token_file.is_some() {
        Some("a bearer token")
    } else if u.password.is_some() {
        Some("a password (basic auth)")
    } else if u.client_key.is_some() || u.client_key_data.is_some() {
        Some("a client key")
    } else if u.exec.is_some() {
        Some("an exec plugin (its token)")
    } else if u.auth_provider.is_some() {
        Some("an auth-provider (its token)")
    } else {
        None
    }
}

/// Every credential value in the kubeconfig, in the forms a server could echo: tokens,
/// passwords, `user:password` in base64 (basic auth), key data (and the base64 lines of the
/// decoded key), auth-provider settings and exec environment values.
pub fn credentials(config: &Kubeconfig) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for u in config.auth_infos.iter().filter_map(|a| a.auth_info.as_ref()) {
        if let Some(t) = &u.token {
            out.push(t.expose_secret().to_string());
        }
        if let Some(p) = &u.password {
            out.push(p.expose_secret().to_string());
            let user = u.username.as_deref().unwrap_or_default();
            out.push(b64.encode(format!("{user}:{}", p.expose_secret())));
        }
        if let Some(k) = &u.client_key_data {
            out.push(k.expose_secret().to_string());
            if let Ok(pem) = b64.decode(k.expose_secret().trim()) {
                out.extend(
                    String::from_utf8_lossy(&pem)
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.starts_with("-----"))
                        .map(str::to_string),
                );
            }
        }
        if let Some(p) = &u.auth_provider {
            // Every setting but those known to name, not hold, a secret (short runs of any
            // value are redacted: an issuer URL would hide every `https:`).
            let public = |k: &str| {
                matches!(
                    k,
                    "client-id"
                        | "idp-issuer-url"
                        | "cmd-path"
                        | "token-key"
                        | "expiry-key"
                        | "expiry"
                        | "extra-scopes"
                        | "idp-certificate-authority"
                )
            };
            out.extend(p.config.iter().filter(|(k, _)| !public(k)).map(|(_, v)| v.clone()));
        }
        for env in u.exec.iter().flat_map(|e| e.env.iter().flatten()) {
            out.extend(env.get("value").cloned());
        }
    }
    out.retain(|s| s.trim().len() >= 4);
    out.iter_mut().for_each(|s| *s = s.trim().to_string());
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_cover_basic_auth_and_key_lines() {
        let kc = Kubeconfig::from_yaml(
            "users:\n- name: u\n  user: {username: admin, password: hunter2-pass}\n- name: t\n  user: {token: abcd1234, auth-provider: {name: oidc, config: {refresh-token: rt-secret-1}}}\n",
        )
        .unwrap();
        let c = credentials(&kc);
        let basic = base64::engine::general_purpose::STANDARD.encode("admin:hunter2-pass");
        for want in ["hunter2-pass", basic.as_str(), "abcd1234", "rt-secret-1"] {
            assert!(c.iter().any(|s| s == want), "{want} in {c:?}");
        }
    }
}
