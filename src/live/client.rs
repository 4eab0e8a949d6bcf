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
/// (`kubeconfig::scrub` drops those) and a server's text (`messages::sanitize`). A connection
/// failure says which step failed (DNS, TCP connect, TLS handshake, HTTP) and why, instead of
/// hyper's "client error (Connect)".
fn error_message(e: &kube::Error, server: &str, credentials: &[String]) -> String {
    let text = match e {
        kube::Error::Api(status) => {
            format!("the server {server} answered HTTP {} {}: {}", status.code, status.reason, status.message)
        }
        other => connect_failure(other, server).unwrap_or_else(|| crate::kubeconfig::scrub(&other.to_string())),
    };
    crate::messages::sanitize(&text, credentials)
}

/// Which step of reaching `server` failed, from the error's chain of causes: hyper-util names
/// the step ("dns error", "tcp connect error"), rustls the certificate problem (inside an
/// io::Error), hyper a reply that is not HTTP/1.1 or HTTP/2.
fn connect_failure(e: &kube::Error, server: &str) -> Option<String> {
    let mut chain: Vec<&(dyn std::error::Error + 'static)> = vec![e];
    while let Some(next) = chain.last().and_then(|c| c.source()) {
        if chain.len() > 32 {
            break;
        }
        chain.push(next);
    }
    let host = server.split_once("://").map_or(server, |(_, r)| r).split('/').next().unwrap_or(server);
    let hostname =
        host.rsplit_once(':').filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
    // rustls' error sits inside io::Errors (tokio-rustls wraps it, hyper-rustls wraps that).
    fn rustls_in<'e>(e: &'e (dyn std::error::Error + 'static), depth: usize) -> Option<&'e rustls::Error> {
        e.downcast_ref::<rustls::Error>().or_else(|| {
            let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
            if depth > 8 { None } else { rustls_in(inner, depth + 1) }
        })
    }
    let tls = chain.iter().find_map(|c| rustls_in(*c, 0));
    if let Some(tls) = tls {
        return Some(format!("TLS handshake with {server} failed: {}", tls_problem(tls)));
    }
    let texts: Vec<String> = chain.iter().map(|c| c.to_string()).collect();
    // The innermost cause (the operating system's words: "Connection refused (os error 111)").
    let cause = texts.last().cloned().unwrap_or_default();
    if texts.iter().any(|t| t == "tls handshake eof") {
        return Some(format!(
            "TLS handshake with {server} failed: the server closed the connection during the handshake (is it plain http://, or not an API server?)"
        ));
    }
    if texts.iter().any(|t| t == "dns error") {
        return Some(format!("DNS lookup of {hostname} failed: {cause}"));
    }
    if texts.iter().any(|t| t.starts_with("tcp connect error") || t.starts_with("tcp open error")) {
        return Some(format!("TCP connect to {host} failed: {cause}"));
    }
    let http = texts.iter().find(|t| {
        let t = t.to_ascii_lowercase();
        t.contains("http version") || t.contains("http2") || t.contains("invalid http") || t.contains("parse")
    });
    if let Some(h) = http {
        return Some(format!("{server} did not answer in HTTP/1.1 or HTTP/2 (ALPN or HTTP version): {h}"));
    }
    if texts.iter().any(|t| t.contains("connection closed before message completed") || t.contains("IncompleteMessage"))
    {
        return Some(format!("{server} closed the connection before answering: {cause}"));
    }
    None
}

/// A rustls failure in words: the certificate problem, or what the server did.
fn tls_problem(e: &rustls::Error) -> String {
    use rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(c) => {
            let why = match c {
                C::UnknownIssuer => "the server's certificate is not signed by a certificate authority the kubeconfig trusts (the cluster's certificate-authority or certificate-authority-data)".to_string(),
                C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".to_string(),
                C::NotValidYet | C::NotValidYetContext { .. } => "the server's certificate is not valid yet".to_string(),
                C::NotValidForName | C::NotValidForNameContext { .. } => "the server's certificate is not valid for this server's name or IP address (its subjectAltName; the cluster's tls-server-name can name another)".to_string(),
                C::Revoked => "the server's certificate is revoked".to_string(),
                C::BadSignature | C::UnsupportedSignatureAlgorithmContext { .. } => "the server's certificate has a bad or unsupported signature".to_string(),
                _ => "the server's certificate is refused".to_string(),
            };
            format!("{why} ({e})")
        }
        E::InvalidMessage(_) | E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            format!("the server did not answer in TLS (is it plain http://?) ({e})")
        }
        E::NoApplicationProtocol => format!("no HTTP version in common (ALPN) ({e})"),
        E::AlertReceived(alert) => format!(
            "the server refused the handshake with the alert {alert:?} (a client certificate it does not accept?)"
        ),
        other => other.to_string(),
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

async fn check(kubeconfig: Kubeconfig, context: &str, credentials: &[String], timeout: Duration) -> LiveResult {
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
    let credentials = match pin_credentials(&mut config, timeout) {
        Ok(minted) => with_minted(credentials, minted),
        Err(why) => return LiveResult::Unreachable(crate::messages::sanitize(&why, credentials)),
    };
    let credentials = credentials.as_slice();
    let namespace = config.default_namespace.clone();
    let server = crate::messages::sanitize(&config.cluster_url.to_string(), credentials);
    let server = server.trim_end_matches('/').to_string();
    let client = match kube::Client::try_from(config) {
        Ok(c) => c,
        Err(e) => return LiveResult::Unreachable(error_message(&e, &server, credentials)),
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
            Err(e) if results.is_empty() => return LiveResult::Unreachable(error_message(&e, &server, credentials)),
            Err(e) => results.push((perm, Err(error_message(&e, &server, credentials)))),
        }
    }
    LiveResult::Checked { namespace, results }
}

/// The most an exec plugin may print (an ExecCredential is a few kilobytes).
const MAX_EXEC_OUTPUT: u64 = 1 << 20;

/// `known` and the credentials minted for one context, longest first.
fn with_minted(known: &[String], minted: Vec<String>) -> Vec<String> {
    let mut all = known.to_vec();
    all.extend(minted.into_iter().map(|c| c.trim().to_string()).filter(|c| c.len() >= 4));
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
    all
}

/// Fixes what the client will send before anything is sent, and returns it so that it is
/// redacted: an exec plugin is run once (within `timeout`, killed after it) and an
/// auth-provider's header computed once, and the result replaces them in `config.auth_info` as
/// a plain token or client key. kube then sends exactly the returned credentials and runs
/// nothing again (it would run an exec plugin twice per client, with no time limit, and a
/// second run may mint another token). Users with a token, token file or password of their own
/// are left as they are (kube prefers those to an exec plugin, and they are already known).
fn pin_credentials(config: &mut kube::Config, timeout: Duration) -> Result<Vec<String>, String> {
    let user = &config.auth_info;
    if user.auth_provider.is_some() {
        let header = provider_token(config, timeout)?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or("the auth-provider gave a header that is not a bearer token")?
            .to_string();
        config.auth_info.token = Some(token.clone().into());
        config.auth_info.auth_provider = None;
        return Ok(vec![token]);
    }
    let own = (user.username.is_some() && user.password.is_some()) || user.token.is_some() || user.token_file.is_some();
    let Some(exec) = user.exec.clone().filter(|_| !own) else { return Ok(Vec::new()) };
    let status = run_exec(&exec, timeout)?;
    config.auth_info.exec = None;
    let mut minted = Vec::new();
    let text = |k: &str| status.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
    if let (Some(cert), Some(key)) = (text("clientCertificateData"), text("clientKeyData")) {
        let b64 = base64::engine::general_purpose::STANDARD;
        minted.extend(key_forms(&key));
        let key_b64 = base64::Engine::encode(&b64, key.as_bytes());
        minted.push(key_b64.clone());
        config.auth_info.client_certificate_data = Some(base64::Engine::encode(&b64, cert.as_bytes()));
        config.auth_info.client_key_data = Some(key_b64.into());
    } else if let Some(token) = text("token") {
        if http::HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(format!(
                "the exec plugin `{}` returned a token that cannot be sent in a header (a control character or a non-ASCII one)",
                exec.command.as_deref().unwrap_or("?")
            ));
        }
        minted.push(token.clone());
        config.auth_info.token = Some(token.into());
    }
    Ok(minted)
}

/// A PEM key as text, and each line of its body (a server could echo any of them).
fn key_forms(pem: &str) -> Vec<String> {
    let mut out = vec![pem.trim().to_string()];
    out.extend(pem.lines().map(str::trim).filter(|l| !l.starts_with("-----")).map(str::to_string));
    out
}

/// Runs an exec credential plugin as kube does (command, args, env, drop env,
/// KUBERNETES_EXEC_INFO) but never interactively (stdin and stderr closed) and within
/// `timeout`; returns the ExecCredential's `status`. Neither its output nor its stderr is shown
/// (they hold the credential).
fn run_exec(exec: &kube::config::ExecConfig, timeout: Duration) -> Result<serde_json::Value, String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let shown = crate::messages::sanitize(exec.command.as_deref().unwrap_or("?"), &[]);
    let command = exec.command.as_deref().ok_or("the exec plugin names no command")?;
    let mut cmd = Command::new(command);
    cmd.args(exec.args.iter().flatten());
    for env in exec.env.iter().flatten() {
        if let (Some(name), Some(value)) = (env.get("name"), env.get("value")) {
            cmd.env(name, value);
        }
    }
    let mut spec = serde_json::json!({"interactive": false});
    if exec.provide_cluster_info {
        let cluster = exec.cluster.as_ref().ok_or("the exec plugin wants cluster information and has none")?;
        spec["cluster"] = serde_json::to_value(cluster).map_err(|e| e.to_string())?;
    }
    let info = serde_json::json!({"apiVersion": exec.api_version, "kind": "ExecCredential", "spec": spec});
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string());
    for name in exec.drop_env.iter().flatten() {
        cmd.env_remove(name);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().map_err(|e| format!("the exec plugin `{shown}` did not start: {e}"))?;
    let deadline = std::time::Instant::now() + timeout;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let read = stdout.take(MAX_EXEC_OUTPUT + 1).read_to_end(&mut out);
            let _ = tx.send(read.map(|_| out));
        });
    }
    let too_slow = || format!("the exec plugin `{shown}` gave no credential within {} s", timeout.as_secs());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(too_slow());
            }
            Err(e) => return Err(format!("the exec plugin `{shown}`: {e}")),
        }
    };
    if !status.success() {
        return Err(format!("the exec plugin `{shown}` failed ({status})"));
    }
    // A child it started may hold the output open: wait no longer than the deadline.
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    let out = match rx.recv_timeout(left) {
        Ok(Ok(out)) if out.len() as u64 <= MAX_EXEC_OUTPUT => out,
        Ok(Ok(_)) => return Err(format!("the exec plugin `{shown}` printed more than {MAX_EXEC_OUTPUT} bytes")),
        Ok(Err(e)) => return Err(format!("the exec plugin `{shown}`: {e}")),
        Err(_) => return Err(too_slow()),
    };
    let credential: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|_| format!("the exec plugin `{shown}` did not print an ExecCredential (JSON)"))?;
    match credential.get("status") {
        Some(status) if status.is_object() => Ok(status.clone()),
        _ => Err(format!("the exec plugin `{shown}` printed an ExecCredential without a status")),
    }
}

/// The Authorization header kube would send for `config`'s auth-provider, computed once by
/// kube's own auth layer (it may run the provider's command, so on a thread, within `timeout`).
fn provider_token(config: &kube::Config, timeout: Duration) -> Result<String, String> {
    let config = config.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(provider_header(&config));
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("the auth-provider gave no credential within {} s", timeout.as_secs()))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err("the auth-provider failed".to_string()),
    }
}

fn provider_header(config: &kube::Config) -> Result<String, String> {
    use kube::client::ConfigExt;
    use tower::{Layer, ServiceExt};
    let failed =
        |e: &dyn std::fmt::Display| format!("the auth-provider failed: {}", crate::kubeconfig::scrub(&e.to_string()));
    let layer = config.auth_layer().map_err(|e| failed(&e))?.ok_or("the auth-provider gave no credential")?;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<http::HeaderValue>));
    let record = seen.clone();
    let capture = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let value = req.headers().get(http::header::AUTHORIZATION).cloned();
        if let Ok(mut slot) = record.lock() {
            *slot = value;
        }
        async { Ok::<_, tower::BoxError>(http::Response::new(())) }
    });
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| failed(&e))?;
    runtime
        .block_on(layer.layer(capture).oneshot(http::Request::new(kube::client::Body::empty())))
        .map_err(|e| failed(&e))?;
    let value = seen.lock().ok().and_then(|mut s| s.take()).ok_or("the auth-provider gave no credential")?;
    value.to_str().map(str::to_string).map_err(|_| "the auth-provider gave a header that is not text".to_string())
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
                match tokio::time::timeout(timeout, check(kubeconfig.clone(), c, &credentials, timeout)).await {
                    Ok(r) => r,
                    Err(_) => LiveResult::Unreachable(format!("no answer within {} s", timeout.as_secs())),
                }
            });
            (c.clone(), result)
        })
        .collect()
}
