#![no_main]
//! Any kubeconfig bytes: doctor and pack never panic (pack reads the same bytes as every file
//! a reference names).
use libfuzzer_sys::fuzz_target;
use skyhelm::kubeconfig::doctor::{DoctorInput, doctor};
use skyhelm::kubeconfig::pack::{PackInput, pack};

fuzz_target!(|data: &[u8]| {
    let input = DoctorInput { path: "fuzz", text: data, allowed: None, in_cluster_name: "in-cluster".into(), in_cluster_exists: None, now: 1_795_564_800, external_database: false, env: Default::default() };
    let _ = doctor(&input);
    if let Ok(text) = std::str::from_utf8(data) {
        let contexts = vec!["a".to_string()];
        let p = PackInput { path: std::path::Path::new("fuzz/kubeconfig"), text, contexts: &contexts, allow_exec: false };
        // Every file a reference names holds the same bytes: the inlining checks see them too.
        let _ = pack(&p, &mut |_| Ok(data.to_vec()));
    }
});
