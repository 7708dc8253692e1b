//! `visibilities` and `locate`: real L1 files in, `stix-vis` JSON / one location out.

use clap::Args;
use domain::energy::EnergyBand;
use domain::time_range::TimeRange;
use domain::workflow::{self, LocateRequest, PhaseCenterChoice, VisibilityRequest};
use std::path::PathBuf;

/// Parses `--time START/END`.
pub fn parse_time(s: &str) -> Result<TimeRange, String> {
    TimeRange::parse(s).map_err(|e| e.to_string())
}

/// Parses `--energy LO-HI`.
pub fn parse_energy(s: &str) -> Result<EnergyBand, String> {
    EnergyBand::parse(s).map_err(|e| e.to_string())
}

/// Parses `--center auto|X,Y` (STIX frame, arcsec).
pub fn parse_center(s: &str) -> Result<PhaseCenterChoice, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(PhaseCenterChoice::Auto);
    }
    let (x, y) = s
        .split_once(',')
        .ok_or_else(|| format!("--center '{s}' must be auto or X,Y in arcsec (STIX frame)"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("--center '{s}': '{v}' is not a number"))
    };
    Ok(PhaseCenterChoice::Stix([parse(x)?, parse(y)?]))
}

/// Arguments of `stix-archive visibilities`.
#[derive(Debug, Args)]
pub struct VisibilitiesArgs {
    /// L1 pixel-data (CPD) science file.
    #[arg(long)]
    pub l1: PathBuf,
    /// Background L1 file (one long bin), subtracted scaled by live time.
    #[arg(long)]
    pub bkg: Option<PathBuf>,
    /// Aspect/ephemeris file (roll, pointing); without it the pointing is assumed and said so.
    #[arg(long)]
    pub aux: Option<PathBuf>,
    /// Interval START/END (UTC, ISO-8601); whole bins containing the edges are used.
    #[arg(long, value_parser = parse_time)]
    pub time: TimeRange,
    /// Energy band LO-HI in keV; whole energy groups containing the edges are used.
    #[arg(long, value_parser = parse_energy)]
    pub energy: EnergyBand,
    /// Phase centre: `auto` (the flare location) or `X,Y` in the STIX frame, arcsec.
    #[arg(long, default_value = "auto", value_parser = parse_center)]
    pub center: PhaseCenterChoice,
    /// Skip the ELUT edge correction (section B; on by default, issue #11).
    #[arg(long)]
    pub no_elut: bool,
    /// Output `stix-vis` JSON file.
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `stix-archive locate`.
#[derive(Debug, Args)]
pub struct LocateArgs {
    /// L1 pixel-data (CPD) science file.
    #[arg(long)]
    pub l1: PathBuf,
    /// Aspect/ephemeris file.
    #[arg(long)]
    pub aux: Option<PathBuf>,
    /// Background L1 file.
    #[arg(long)]
    pub bkg: Option<PathBuf>,
    /// Interval START/END; default ±60 s around the 4–10 keV count peak of the file.
    #[arg(long, value_parser = parse_time)]
    pub time: Option<TimeRange>,
    /// Energy band LO-HI in keV.
    #[arg(long, default_value = "6-10", value_parser = parse_energy)]
    pub energy: EnergyBand,
}

/// Builds visibilities and writes them; prints a one-line JSON summary on stdout.
pub fn visibilities(a: VisibilitiesArgs) -> Result<(), String> {
    let req = VisibilityRequest {
        l1: a.l1,
        bkg: a.bkg,
        aux: a.aux,
        time: a.time,
        energy: a.energy,
        center: a.center,
        calibration: domain::calibration::CalibrationOptions {
            elut_correction: !a.no_elut,
        },
    };
    let vis = workflow::visibilities_from_paths(&req).map_err(|e| e.to_string())?;
    vis.write(&a.out).map_err(|e| e.to_string())?;
    let summary = serde_json::json!({
        "out": a.out.display().to_string(),
        "time_range": vis.meta.time_range,
        "energy_range_kev": vis.meta.energy_range_kev,
        "phase_center": vis.meta.phase_center,
        "pointing_source": vis.meta.map_wcs.pointing_source,
        "visibilities": vis.visibilities.len(),
        "used": vis.visibilities.iter().filter(|v| v.used).count(),
        "total_counts": vis.meta.total_counts,
    });
    println!("{summary}");
    Ok(())
}

/// Locates the flare and prints one JSON object on stdout.
pub fn locate(a: LocateArgs) -> Result<(), String> {
    let req = LocateRequest {
        l1: a.l1,
        aux: a.aux,
        bkg: a.bkg,
        time: a.time,
        energy: a.energy,
    };
    let loc = workflow::locate_from_paths(&req).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&loc).map_err(|e| e.to_string())?
    );
    Ok(())
}
