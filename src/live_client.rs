//! The network side of `doctor --live` (I/O, like `app`): connects to each context with kube's
//! client and asks SelfSubjectAccessReview for every permission in `kubeconfig::live::NEEDED`.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::kubeconfig::live::{LiveResult, NEEDED};

/// kube's errors may quote a kubeconfig's lines: keep only what `kubeconfig::scrub` keeps.
fn scrub(e: impl std::fmt::Display) -> String {
    crate::kubeconfig::scrub(&e.to_string())
}

async fn check(kubeconfig: Kubeconfig, context: &str) -> LiveResult {
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let config = match kube::Config::from_custom_kubeconfig(kubeconfig, &options).await {
        Ok(c) => c,
        Err(e) => return LiveResult::Unreachable(scrub(e)),
    };
    let namespace = config.default_namespace.clone();
    let client = match kube::Client::try_from(config) {
        Ok(c) => c,
        Err(e) => return LiveResult::Unreachable(scrub(e)),
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client);
    let mut results = Vec::new();
    for perm in NEEDED {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some(perm.group.into()),
                    resource: Some(perm.resource.into()),
                    subresource: perm.subresource.map(str::to_string),
                    verb: Some(perm.verb.into()),
                    namespace: perm.namespaced.then(|| namespace.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &review).await {
            Ok(r) => results.push((*perm, Ok(r.status.is_some_and(|s| s.allowed)))),
            // The first call failing as a whole (connection, TLS, authentication) means the
            // context cannot be checked at all.
            Err(e) if results.is_empty() => return LiveResult::Unreachable(scrub(e)),
            Err(e) => results.push((*perm, Err(scrub(e)))),
        }
    }
    LiveResult::Checked { namespace, results }
}

/// Checks each context, each within `timeout`.
pub fn check_contexts(kubeconfig: &Kubeconfig, contexts: &[String], timeout: Duration) -> Vec<(String, LiveResult)> {
    crate::kubeconfig::identity::install_tls_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return contexts.iter().map(|c| (c.clone(), LiveResult::Unreachable(scrub(e.to_string())))).collect(),
    };
    contexts
        .iter()
        .map(|c| {
            let result = runtime.block_on(async {
                match tokio::time::timeout(timeout, check(kubeconfig.clone(), c)).await {
                    Ok(r) => r,
                    Err(_) => LiveResult::Unreachable(format!("no answer within {} s", timeout.as_secs())),
                }
            });
            (c.clone(), result)
        })
        .collect()
}
