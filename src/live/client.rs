//! The network side of `doctor --live` (I/O, like `app`): connects to each context with kube's
//! client and asks SelfSubjectAccessReview for every permission of `live::needed`.
//! Nothing from a server is shown unsanitized (`messages::sanitize`), no credential goes over plain
//! http and no exec plugin runs without --allow-exec (`live::precheck`, before any connection).

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::live::{self, LiveResult};

/// kube's error as text safe to show: kube's errors may quote a kubeconfig's lines
/// (`kubeconfig::scrub` drops those) and a server's text (`messages::sanitize`).
fn error_message(e: &kube::Error, credentials: &[String]) -> String {
    match e {
        kube::Error::Api(status) => crate::messages::sanitize(
            &format!("the server answered {} {}: {}", status.code, status.reason, status.message),
            credentials,
        ),
        other => crate::messages::sanitize(&crate::kubeconfig::scrub(&other.to_string()), credentials),
    }
}

/// Whether NO_PROXY/no_proxy (comma-separated hosts or domain suffixes, `*` for all) covers `host`.
fn no_proxy(host: &str) -> bool {
    let list = std::env::var("NO_PROXY").ok().filter(|v| !v.is_empty()).or_else(|| std::env::var("no_proxy").ok());
    list.unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty()).any(|e| {
        let e = e.rsplit_once(':').filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit())).map_or(e, |(h, _)| h);
        let e = e.trim_start_matches('.');
        e == "*"
            || host.eq_ignore_ascii_case(e)
            || host.to_ascii_lowercase().ends_with(&format!(".{}", e.to_ascii_lowercase()))
    })
}

/// kube takes HTTPS_PROXY (and a kubeconfig's proxy-url) for every server; a plain http://
/// server goes through HTTP_PROXY instead, as curl and kubectl do.
fn http_proxy_for(host: Option<&str>) -> Option<String> {
    if host.is_none_or(no_proxy) {
        return None;
    }
    ["HTTP_PROXY", "http_proxy"].iter().find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

async fn check(kubeconfig: Kubeconfig, context: &str, credentials: &[String]) -> LiveResult {
    let has_proxy_url =
        live::cluster_of(&kubeconfig, context).is_some_and(|k| k.proxy_url.as_deref().is_some_and(|p| !p.is_empty()));
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let mut config = match kube::Config::from_custom_kubeconfig(kubeconfig, &options).await {
        Ok(c) => c,
        Err(e) => {
            return LiveResult::Unreachable(crate::messages::sanitize(
                &crate::kubeconfig::scrub(&e.to_string()),
                credentials,
            ));
        }
    };
    if config.cluster_url.scheme_str() == Some("http") && !has_proxy_url {
        config.proxy_url = http_proxy_for(config.cluster_url.host()).and_then(|p| p.parse().ok());
    }
    let namespace = config.default_namespace.clone();
    let client = match kube::Client::try_from(config) {
        Ok(c) => c,
        Err(e) => return LiveResult::Unreachable(error_message(&e, credentials)),
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client);
    let mut results = Vec::new();
    for perm in live::needed(&namespace) {
        let (resource, subresource) = match perm.resource.split_once('/') {
            Some((r, s)) => (r.to_string(), Some(s.to_string())),
            None => (perm.resource.clone(), None),
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some(perm.group.clone()),
                    resource: Some(resource),
                    subresource,
                    verb: Some(perm.verb.clone()),
                    namespace: perm.namespace.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &review).await {
            Ok(r) => results.push((perm, Ok(r.status.is_some_and(|s| s.allowed)))),
            // The first call failing as a whole (connection, TLS, authentication) means the
            // context cannot be checked at all.
            Err(e) if results.is_empty() => return LiveResult::Unreachable(error_message(&e, credentials)),
            Err(e) => results.push((perm, Err(error_message(&e, credentials)))),
        }
    }
    LiveResult::Checked { namespace, results }
}

/// The kubeconfig's credentials, and the tokens in its token files (kube reads and sends them).
/// A token file is read as `kubeconfig pack` reads the files a kubeconfig names: a regular
/// file of at most `pack::MAX_FILE_BYTES` (never a FIFO or a device, which could block or
/// never end).
fn all_credentials(kubeconfig: &Kubeconfig) -> Vec<String> {
    let mut creds = live::credentials(kubeconfig);
    for path in kubeconfig.auth_infos.iter().filter_map(|a| a.auth_info.as_ref()?.token_file.as_ref()) {
        let limit = crate::kubeconfig::pack::MAX_FILE_BYTES;
        if let Ok(bytes) = crate::files::read_regular_file(std::path::Path::new(path), limit)
            && bytes.len() <= limit
            && let Ok(t) = String::from_utf8(bytes)
            && t.trim().len() >= 4
        {
            creds.push(t.trim().to_string());
        }
    }
    // Proxy credentials (`http://user:password@proxy`), sent to the proxy as basic auth.
    let proxies =
        kubeconfig.clusters.iter().filter_map(|c| c.cluster.as_ref()?.proxy_url.clone()).chain(
            ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"].iter().filter_map(|k| std::env::var(k).ok()),
        );
    for proxy in proxies {
        let authority =
            proxy.split_once("://").map_or(proxy.as_str(), |(_, rest)| rest).split('/').next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            creds.push(userinfo.to_string());
            creds.extend(userinfo.split_once(':').map(|(_, pw)| pw.to_string()));
            creds.push(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, userinfo));
        }
    }
    creds.retain(|c| c.len() >= 4);
    creds.sort_by_key(|s| std::cmp::Reverse(s.len()));
    creds
}

/// Checks each context, each within `timeout`. Contexts `live::precheck` stops are not contacted.
pub fn check_contexts(
    kubeconfig: &Kubeconfig,
    contexts: &[String],
    timeout: Duration,
    allow_exec: bool,
) -> Vec<(String, LiveResult)> {
    crate::kubeconfig::identity::install_tls_provider();
    let credentials = all_credentials(kubeconfig);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            return contexts
                .iter()
                .map(|c| (c.clone(), LiveResult::Unreachable(crate::messages::sanitize(&e.to_string(), &credentials))))
                .collect();
        }
    };
    contexts
        .iter()
        .map(|c| {
            if let Some(stopped) = live::precheck(kubeconfig, c, allow_exec) {
                return (c.clone(), stopped);
            }
            let result = runtime.block_on(async {
                match tokio::time::timeout(timeout, check(kubeconfig.clone(), c, &credentials)).await {
                    Ok(r) => r,
                    Err(_) => LiveResult::Unreachable(format!("no answer within {} s", timeout.as_secs())),
                }
            });
            (c.clone(), result)
        })
        .collect()
}
