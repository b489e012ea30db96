//! Configuration errors reach the user with the key and what was expected.

use crate::helpers::TestDir;

#[test]
fn unknown_key_in_file_is_named() {
    let dir = TestDir::new("config");
    let file = dir.path.join("bad.toml");
    std::fs::write(&file, "[policy]\nmin_confidense = 0.7\n").unwrap();
    let out = dir.command().arg("--config").arg(&file).args(["run", "--once"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("min_confidense") && err.contains("bad.toml"), "{err}");
}

#[test]
fn bad_environment_override_names_the_variable() {
    let dir = TestDir::new("config-env");
    let out = dir.command().env("SWITCHYARD__POLICY__MIN_CONFIDENCE", "high").args(["run", "--once"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SWITCHYARD__POLICY__MIN_CONFIDENCE") && err.contains("policy.min_confidence"), "{err}");
}

#[test]
fn missing_config_file_is_an_error() {
    let dir = TestDir::new("config-missing");
    let out = dir.command().args(["--config", "/nonexistent/switchyard.toml", "run", "--once"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/switchyard.toml"));
}
