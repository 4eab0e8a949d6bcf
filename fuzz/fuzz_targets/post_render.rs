#![no_main]
//! The whole post-render on any bytes: no panic; on success the output keeps every document
//! it did not edit byte for byte (so the input with nothing edited comes back as it was).
use libfuzzer_sys::fuzz_target;
use skyhelm::settings::{ConfigFile, Settings};

fuzz_target!(|data: &[u8]| {
    let settings = Settings::resolve(&Default::default(), ConfigFile::default());
    if let Ok(out) = skyhelm::post_render::post_render(data, &settings, None) {
        if out.changes.is_empty() {
            assert_eq!(out.output.as_bytes(), data);
        } else {
            assert!(!out.output.is_empty());
        }
    }
});
