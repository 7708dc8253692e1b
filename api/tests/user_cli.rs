//! Operators' account commands and the token secret, through the real binary: `user create`
//! (password on stdin), `set-role`, `disable`; `serve` and `worker` refuse to start without a
//! JWT secret of at least 32 bytes; `demo`'s generated secret is stored with mode 0600 and
//! reused.

use jobs::store::entities::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stix-archive"));
    c.current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("STIX__") || k == "STIX_CONFIG" {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `stix-archive ARGS` in `dir` with `stdin` fed in; (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = bin(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "no panic: {err}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        err,
    )
}

async fn user_row(dir: &Path, name: &str) -> user::Model {
    let db = jobs::store::connect(
        &format!("sqlite://{}/data/stix-archive.sqlite", dir.display()),
        1,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    user::Entity::find()
        .filter(user::Column::Username.eq(name))
        .one(&db)
        .await
        .unwrap()
        .expect("the user row")
}

#[tokio::test]
async fn operators_create_promote_and_disable_users() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out, err) = run(
        d,
        &[
            "user",
            "create",
            "Carol",
            "--email",
            "carol@example.org",
            "--admin",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("user Carol") && out.contains("role=admin"),
        "{out}"
    );
    let carol = user_row(d, "Carol").await;
    assert_eq!(carol.role, "admin");
    assert!(
        carol.password_hash.starts_with("$argon2id$"),
        "argon2id hash"
    );
    assert!(!carol.password_hash.contains("a long enough password"));

    // Usernames are unique regardless of case; a short password is refused.
    let (code, _, err) = run(
        d,
        &[
            "user",
            "create",
            "carol",
            "--email",
            "c2@example.org",
            "--password-stdin",
        ],
        "another long password\n",
    );
    assert_ne!(code, 0, "a duplicate name is refused");
    assert!(err.contains("taken"), "{err}");
    let (code, _, err) = run(
        d,
        &[
            "user",
            "create",
            "dave",
            "--email",
            "d@example.org",
            "--password-stdin",
        ],
        "short\n",
    );
    assert_ne!(code, 0, "a 5-byte password is refused: {err}");

    let (code, out, err) = run(d, &["user", "set-role", "Carol", "user"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("role=user"), "{out}");
    let (code, _, err) = run(d, &["user", "set-role", "Carol", "king"], "");
    assert_ne!(code, 0);
    assert!(err.contains("admin or user"), "{err}");
    let before = user_row(d, "Carol").await.token_version;
    let (code, out, err) = run(d, &["user", "disable", "Carol"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("disabled"), "{out}");
    let after = user_row(d, "Carol").await;
    assert!(after.disabled);
    assert!(after.token_version > before, "older tokens are revoked");
    let (code, _, err) = run(d, &["user", "disable", "nobody"], "");
    assert_ne!(code, 0, "an unknown user is an error: {err}");
}

#[test]
fn serve_and_worker_need_a_long_enough_secret() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["serve", "worker"] {
        for secret in [None, Some("too short")] {
            let mut c = bin(dir.path());
            c.arg(cmd).env("STIX__SERVER__BIND", "127.0.0.1:0");
            if let Some(s) = secret {
                c.env("STIX__AUTH__JWT_SECRET", s);
            }
            let out = c.output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && !err.contains("panicked"),
                "{cmd} {secret:?}: {err}"
            );
            assert!(err.contains("STIX__AUTH__JWT_SECRET"), "{cmd}: {err}");
            assert!(err.contains("32"), "the message says how long: {err}");
            assert_eq!(
                err.lines().filter(|l| l.contains("JWT_SECRET")).count(),
                1,
                "one clear message: {err}"
            );
        }
    }
}

#[test]
fn the_demo_secret_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/stix-archive.sqlite.jwt-secret");
    let first = api::cli::user::demo_secret(&path).unwrap();
    assert!(first.len() >= 32);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the owner may read it");
    assert_eq!(api::cli::user::demo_secret(&path).unwrap(), first, "reused");
    // A damaged (too short) file is replaced by a new secret, still private.
    std::fs::write(&path, "x").unwrap();
    let second = api::cli::user::demo_secret(&path).unwrap();
    assert!(second.len() >= 32 && second != first);
}
