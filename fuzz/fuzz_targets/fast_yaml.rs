#![no_main]
//! The fast reader of plain block YAML against granit-parser: on every text it takes, it must
//! give the full parser's events with the same spans (and never panic on any text).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(difference) = skyhelm::yaml::fast::compare_with_full_parser(text) {
        panic!("{difference}");
    }
});
