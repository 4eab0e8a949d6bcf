//! The rules of post-render. Each takes the stream (and what it needs of the settings) and
//! returns the changes it wants, with reasons; none prints or writes.

pub mod allowed_contexts;
pub mod api_server;
pub mod change;
pub mod container_env;
pub mod kubeconfig_checks;
pub mod kubeconfig_mount;
pub mod rbac;

use crate::stream::ManifestError;

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    ApiServer(#[from] api_server::ApiServerError),
    #[error(transparent)]
    Mount(#[from] kubeconfig_mount::MountError),
    #[error(transparent)]
    Contexts(#[from] allowed_contexts::ContextsError),
    #[error(transparent)]
    Rbac(#[from] rbac::RbacError),
    #[error(transparent)]
    Unusable(#[from] kubeconfig_checks::UnusableError),
}
