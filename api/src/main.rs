//! `stix-archive`: the one binary. `serve` (default) runs the GraphQL API with in-process
//! workers; `worker` runs workers only; `migrate` applies (or reverts) the schema;
//! `print-schema` prints the GraphQL SDL; `visibilities` and `locate` work on L1 files
//! without a database. Errors end with one message and a non-zero exit.

use api::settings::Settings;
use api::startup::{Application, Backend, shutdown_signal};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "stix-archive",
    version,
    about = "STIX flare preview-image archive and imaging service"
)]
struct Cli {
    /// Optional TOML settings file (see README for the keys).
    #[arg(long, global = true, env = "STIX_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GraphQL API and the in-process worker pool (the default).
    Serve {
        /// Watch this directory for new files to ingest (also `STIX__STORAGE__INBOX`).
        #[arg(long)]
        inbox: Option<PathBuf>,
    },
    /// Ingest FITS files, directories and flare-list CSVs; queue the previews of new flare files.
    Ingest {
        /// Also make the previews here and wait until they are done (batch reprocessing).
        #[arg(long)]
        wait: bool,
        /// Print one machine-readable JSON report on stdout instead of one line per file.
        #[arg(long)]
        json: bool,
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Ingest the bundled sample flares into the archive, make their previews, and serve.
    Demo {
        /// Directory holding the sample (default: ./data/stix).
        #[arg(long)]
        sample: Option<PathBuf>,
    },
    /// Run only the worker pool (scale-out on PostgreSQL).
    Worker,
    /// Apply the database migrations (or revert them all with --down) and exit.
    Migrate {
        /// Revert every migration instead.
        #[arg(long)]
        down: bool,
    },
    /// Print the GraphQL schema (SDL), as committed in schema.graphql.
    PrintSchema,
    /// Build calibrated visibilities from real L1 files and write them as stix-vis JSON.
    Visibilities(api::cli::science::VisibilitiesArgs),
    /// Locate the flare (full-disk back-projection) and print one JSON object.
    Locate(api::cli::science::LocateArgs),
    /// Reconstruct one image (FITS + optional PNG) and print one JSON line.
    Image(api::cli::image::ImageArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { inbox: None });
    // Commands that need neither settings nor a database.
    let one_shot = match command {
        Command::PrintSchema => {
            print!("{}", api::graphql::sdl());
            return ExitCode::SUCCESS;
        }
        Command::Visibilities(a) => Err(api::cli::science::visibilities(a)),
        Command::Locate(a) => Err(api::cli::science::locate(a)),
        Command::Image(a) => return finish_with_status(api::cli::image::image(a)),
        other => Ok(other),
    };
    let command = match one_shot {
        Ok(service_command) => service_command,
        Err(result) => return finish(result),
    };
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(mut s) => {
            if let Command::Serve { inbox: Some(dir) } = &command {
                s.storage.inbox = Some(dir.clone());
            }
            s
        }
        Err(e) => {
            eprintln!("stix-archive: {e}");
            return ExitCode::from(2);
        }
    };
    api::telemetry::init(&settings.log.format, &settings.log.filter);
    finish(match command {
        Command::Worker => worker(&settings).await,
        Command::Migrate { down } => migrate(&settings, down).await,
        Command::Ingest { wait, json, paths } => {
            api::cli::ingest::ingest(&settings, &paths, wait, json).await
        }
        Command::Demo { sample } => api::cli::ingest::demo(&settings, sample.as_deref()).await,
        _ => serve(&settings).await,
    })
}

/// Exit status of a command: success, or one message on stderr and status 1.
fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stix-archive: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Exit status of a command that chooses its own failure status.
fn finish_with_status(result: Result<(), api::cli::Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("stix-archive: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

async fn serve(settings: &Settings) -> Result<(), String> {
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "stix-archive listening on {} (GraphiQL in a browser)",
        app.graphql_url()
    );
    app.run_until_stopped(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn worker(settings: &Settings) -> Result<(), String> {
    let backend = Backend::open(settings).await.map_err(|e| e.to_string())?;
    let state = backend.worker_state();
    let concurrency = settings.workers.concurrency.max(1);
    tracing::info!(concurrency, "worker pool running");
    jobs::worker::run_pool(
        state,
        concurrency,
        std::time::Duration::from_secs(settings.server.shutdown_grace_seconds),
        shutdown_signal(),
    )
    .await
    .map_err(|e| e.to_string())
}

async fn migrate(settings: &Settings, down: bool) -> Result<(), String> {
    api::startup::ensure_writable_dir(&settings.storage.data_dir).map_err(|e| e.to_string())?;
    let db = jobs::store::connect(
        &settings.database.url,
        settings.database.max_connections,
        std::time::Duration::from_secs(settings.database.connect_timeout_seconds),
    )
    .await
    .map_err(|e| format!("{e} (STIX__DATABASE__URL)"))?;
    if down {
        jobs::store::migrate_down(&db)
            .await
            .map_err(|e| e.to_string())?;
        eprintln!("all migrations reverted");
    } else {
        jobs::store::migrate(&db).await.map_err(|e| e.to_string())?;
        eprintln!("database is up to date");
    }
    Ok(())
}
