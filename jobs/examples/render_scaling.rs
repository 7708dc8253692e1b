//! How far the compute of a reconstruction job scales across processes on this machine, with
//! no database, queue or API at all: the ceiling that `api/examples/queue_throughput.rs`
//! measures the service against.
//!
//! Each process renders the box of a user's 129² CLEAN job (`jobs::pipeline::render::render_box`
//! on the M1.2 flare's pixel data, read once as the worker's file cache holds it: visibilities,
//! CLEAN, quality, FITS, quick-look PNG with the fast encoder, checksums) over and over for
//! `--seconds`, each time one minute starting a second later, as the benchmark's jobs do. The
//! run is made with 1, then with 2 … `--processes` copies at once; it prints one JSON line per
//! run with the boxes per second of all copies together and their ratio to one copy.
//!
//! ```sh
//! cargo build --release -p jobs --example render_scaling
//! target/release/examples/render_scaling --processes 2 --seconds 10
//! ```

use domain::aspect::AspectSolution;
use domain::calibration::CalibrationOptions;
use domain::energy::EnergyBand;
use domain::imaging::Algorithm;
use domain::imaging::params::ImagingParams;
use domain::l1::PixelData;
use domain::output::Provenance;
use domain::time_range::TimeRange;
use jobs::kinds::ImageKind;
use jobs::pipeline::render::{BoxInput, render_box};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The M1.2 flare's L1 file in the repository's sample.
const L1: &str = "data/stix/l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits";

/// The repository's STIX flare list, and the flare of the M1.2 file in it: the map centre is
/// its listed location, as for the worker's jobs.
const FLARE_LIST: &str = "data/stix/flare_reference_locations.csv";
const FLARE_ID: &str = "2211111136";

/// The listed helioprojective location of [`FLARE_ID`], arcsec.
fn flare_hpc_arcsec(root: &Path) -> [f64; 2] {
    let text = std::fs::read_to_string(root.join(FLARE_LIST)).expect("the flare list reads");
    domain::policy::flare_list::read_flare_list(&text)
        .expect("the flare list parses")
        .into_iter()
        .find(|f| f.flare_id == FLARE_ID)
        .and_then(|f| f.hpc_solo_arcsec)
        .expect("the M1.2 flare has a listed location")
}

/// Renders boxes for `seconds` and returns how many.
fn child(seconds: f64) -> usize {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let sci = PixelData::read(&root.join(L1)).expect("the sample L1 file reads");
    let aspect = AspectSolution::assumed(0.0, Some(sci.observer.rsun_arcsec), "benchmark");
    let center = aspect.attitude().hpc_to_stix(flare_hpc_arcsec(&root));
    let out = tempfile::tempdir().expect("a temporary directory");
    let params = ImagingParams::default();
    let algorithms = [Algorithm::Clean];
    let first = chrono::DateTime::parse_from_rfc3339("2022-11-11T11:20:00Z")
        .expect("a time")
        .with_timezone(&chrono::Utc);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut n = 0usize;
    while Instant::now() < end {
        let start = first + chrono::Duration::seconds((n % 600) as i64);
        let ids: HashMap<Algorithm, uuid::Uuid> = [(Algorithm::Clean, uuid::Uuid::new_v4())].into();
        let done = render_box(&BoxInput {
            sci: &sci,
            bkg: None,
            aspect: &aspect,
            time: TimeRange::new(start, start + chrono::Duration::seconds(60)).expect("a range"),
            band: EnergyBand::new(4.0, 10.0).expect("a band"),
            center_stix_arcsec: center,
            size_px: 129,
            pixel_arcsec: 2.0,
            algorithms: &algorithms,
            params: &params,
            data_dir: out.path(),
            rel_dir: PathBuf::from(format!("box{n}")),
            stem: "bench".into(),
            image_ids: &ids,
            provenance: Provenance::default(),
            calibration: CalibrationOptions::default(),
            flare_label: Some(FLARE_ID.into()),
            cancel: None,
            kind: ImageKind::User,
        })
        .expect("the box renders");
        assert!(
            done.results.iter().all(|(_, r)| r.is_ok()),
            "CLEAN succeeds"
        );
        // The job's files go to storage and are not kept here.
        let _ = std::fs::remove_dir_all(out.path().join(format!("box{n}")));
        n += 1;
    }
    n
}

/// Runs `copies` children at once for `seconds`; the boxes per second of all together.
fn run(exe: &Path, copies: usize, seconds: f64) -> f64 {
    // All started before any is waited for, so that they run at the same time.
    let children: Vec<_> = (0..copies)
        .map(|_| {
            Command::new(exe)
                .args(["--child", &seconds.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("a child starts")
        })
        .collect();
    let mut total = 0usize;
    for c in children {
        let out = c.wait_with_output().expect("a child runs");
        assert!(out.status.success(), "a child failed: {out:?}");
        total += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .expect("a count");
    }
    total as f64 / seconds
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: f64| -> f64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} takes a number"))
            })
            .unwrap_or(default)
    };
    if args.first().map(String::as_str) == Some("--child") {
        println!("{}", child(value("--child", 10.0)));
        return;
    }
    let processes = value("--processes", 2.0) as usize;
    let seconds = value("--seconds", 10.0);
    let exe = std::env::current_exe().expect("own path");
    let mut one = None;
    for copies in 1..=processes.max(1) {
        let per_second = run(&exe, copies, seconds);
        let base = *one.get_or_insert(per_second);
        println!(
            "{}",
            serde_json::json!({
                "processes": copies,
                "seconds": seconds,
                "boxes_per_s": (per_second * 10.0).round() / 10.0,
                "ratio_to_one": (per_second / base * 100.0).round() / 100.0,
            })
        );
    }
}
