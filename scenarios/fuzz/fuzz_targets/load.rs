//! The scenario loader never panics, whatever the bytes: it loads, or it returns diagnostics that
//! each carry a position; and whatever loads renders to a file that loads to the same model.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match scenarios::load_str("fuzz.yaml", text) {
        Ok(loaded) => {
            let yaml = scenarios::render::to_yaml(&loaded.scenario).expect("a loaded scenario renders");
            let again = scenarios::load_str("fuzz.yaml", &yaml).expect("a rendered scenario loads");
            assert_eq!(again.scenario, loaded.scenario);
        }
        Err(e) => {
            let diags = e.diagnostics();
            assert!(!diags.is_empty());
            for d in diags {
                assert!(d.to_string().starts_with("fuzz.yaml:"));
            }
        }
    }
});
