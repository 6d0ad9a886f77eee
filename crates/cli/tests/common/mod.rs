//! Running the `causalgen` binary from integration tests: success, JSON and failure
//! helpers shared by every CLI test file (failures must never panic or print a backtrace).
#![allow(dead_code)] // each test file uses a subset

use std::process::{Command, Output};

use serde_json::Value;

pub fn causalgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_causalgen"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the causalgen binary runs")
}

/// Runs a command that must succeed.
pub fn succeeds(args: &[&str]) -> Output {
    let out = causalgen(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn ok_json(args: &[&str]) -> Value {
    serde_json::from_slice(&succeeds(args).stdout).expect("valid JSON on stdout")
}

/// Runs a command that must fail and returns its stderr.
pub fn fails(args: &[&str]) -> String {
    let out = causalgen(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(
        stderr.starts_with("error: ") || stderr.contains("\nerror: ") || stderr.contains("error:"),
        "{stderr}"
    );
    stderr
}
