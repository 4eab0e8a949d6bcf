//! What SkyPilot needs and accepts, as data and pure functions (FACTS.md §3), shared by the
//! post-render rules, `doctor` and `generate`: the context policy (`contexts`), the minimal
//! RBAC set (`minimal_rbac`) and how Kubernetes evaluates RBAC grants (`grants`).

pub mod contexts;
pub mod grants;
pub mod minimal_rbac;
