//! The `stix-archive` binary as an operator meets it: the committed schema is current, and
//! bad configuration stops start-up with one clear message and a non-zero exit, no panic.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stix-archive"));
    c.env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("STIX__") || k == "STIX_CONFIG" {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn committed_schema_is_current() {
    let out = bin().arg("print-schema").output().unwrap();
    assert!(out.status.success());
    let sdl = String::from_utf8(out.stdout).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema.graphql is stale: regenerate it with `cargo run -p api --bin stix-archive -- print-schema > schema.graphql` \
         (or UPDATE_SCHEMA=1 cargo test -p api --test cli) and commit it"
    );
    assert_eq!(sdl, api::graphql::sdl());
}

/// Runs `serve` with the given settings and returns (exit code, stderr).
fn serve_with(env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.current_dir(dir.path())
        .arg("serve")
        .env("STIX__SERVER__BIND", "127.0.0.1:0");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "no panic: {err}");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn unknown_setting_is_refused() {
    let (code, err) = serve_with(&[("STIX__SERVER__BINDD", "x")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown field `bindd`"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one clear message: {err}");
}

#[test]
fn unreachable_database_is_refused() {
    let (code, err) = serve_with(&[
        (
            "STIX__DATABASE__URL",
            "postgres://nobody:pw@127.0.0.1:1/none",
        ),
        ("STIX__DATABASE__CONNECT_TIMEOUT_SECONDS", "2"),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot connect to the database") && err.contains("STIX__DATABASE__URL"),
        "{err}"
    );
    assert!(!err.contains(":pw@"), "the password is not printed: {err}");
}

#[test]
fn unwritable_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let (code, err) = serve_with(&[("STIX__STORAGE__DATA_DIR", file.to_str().unwrap())]);
    assert_ne!(code, 0);
    assert!(
        err.contains("is not writable") && err.contains("STIX__STORAGE__DATA_DIR"),
        "{err}"
    );
}

#[test]
fn missing_config_file_is_refused() {
    let (code, err) = serve_with(&[("STIX_CONFIG", "/nonexistent/stix.toml")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
}
