//! `stix-archive user create|set-role|disable`: operators bootstrap and manage accounts from
//! the command line (the first admin is made here). Also the demo's JWT secret file.

use crate::auth::accounts;
use crate::auth::caller::Role;
use crate::settings::Settings;
use crate::startup::Backend;
use clap::Subcommand;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (password from a prompt, or one line on stdin with --password-stdin).
    Create {
        /// Username (3–32 letters, digits, '.', '-', '_'; unique regardless of case).
        name: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's role.
    SetRole {
        /// Username.
        name: String,
        /// `admin` or `user`.
        role: String,
    },
    /// Disable a user and revoke their tokens.
    Disable {
        /// Username.
        name: String,
    },
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    if !from_stdin {
        eprint!("Password for the new account: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Runs a `user` subcommand against the configured archive.
pub async fn run(settings: &Settings, cmd: UserCommand) -> Result<(), String> {
    let backend = Backend::open(settings, jobs::events::Hearing::ThisProcess)
        .await
        .map_err(|e| e.to_string())?;
    let db = &backend.state.db;
    let row = match cmd {
        UserCommand::Create {
            name,
            email,
            admin,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let role = if admin { Role::Admin } else { Role::User };
            accounts::create(db, &name, &email, password, role)
                .await
                .map_err(|e| e.to_string())?
        }
        UserCommand::SetRole { name, role } => {
            let role = Role::parse(&role)
                .ok_or_else(|| format!("role must be admin or user, not '{role}'"))?;
            accounts::set_role(db, &name, role)
                .await
                .map_err(|e| e.to_string())?
        }
        UserCommand::Disable { name } => accounts::disable(db, &name)
            .await
            .map_err(|e| e.to_string())?,
    };
    println!(
        "user {} {} role={}{}",
        row.username,
        row.public_id,
        row.role,
        if row.disabled { " disabled" } else { "" }
    );
    Ok(())
}

/// Where `demo` keeps its generated JWT secret: beside the SQLite database, else in the
/// data directory.
pub fn demo_secret_path(settings: &Settings) -> PathBuf {
    let url = &settings.database.url;
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let db = PathBuf::from(rest.split('?').next().unwrap_or_default());
        if let Some(name) = db.file_name() {
            return db.with_file_name(format!("{}.jwt-secret", name.to_string_lossy()));
        }
    }
    settings.storage.data_dir.join("demo.jwt-secret")
}

/// The demo's secret: read from `path`, or generated once (32 random bytes, base64) and
/// stored there with mode 0600.
pub fn demo_secret(path: &Path) -> Result<String, String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_string();
        if s.len() >= crate::settings::MIN_JWT_SECRET_BYTES {
            return Ok(s);
        }
    }
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(secret.as_bytes())
    };
    write().map_err(|e| format!("cannot store the demo secret in {}: {e}", path.display()))?;
    Ok(secret)
}
