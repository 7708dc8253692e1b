//! One entry point for every algorithm: [`reconstruct`] takes a `stix-vis` document and
//! checked parameters and returns a [`Reconstruction`] (map, parameters used, diagnostics).
//!
//! Map units (`Map.unit`, FITS `BUNIT` style):
//! - BP (natural and uniform): [`UNIT_FLUX`], flux units per E.1 (a point source of flux F
//!   peaks at F). Not per arcsec².
//! - CLEAN, MEM, EM, FWDFIT: [`UNIT_FLUX_PER_ARCSEC2`] (E.2–E.5); their maps integrate
//!   (Σ·Δ²) to the total flux.

use super::bp::{Weighting, back_project};
use super::clean::{CleanError, clean};
use super::em::EmError;
use super::fwdfit::{self, FwdfitError, FwdfitOptions};
use super::mem::MemError;
use super::params::{FwdfitShape, ParamsError, ValidParams};
use super::{Algorithm, CleanExtras, FwdfitExtras, Map, Reconstruction};
use crate::visfile::VisFile;
use serde_json::json;

/// Unit of BP maps.
pub const UNIT_FLUX: &str = "ct keV-1 s-1 cm-2";
/// Unit of CLEAN, MEM, EM and FWDFIT maps.
pub const UNIT_FLUX_PER_ARCSEC2: &str = "ct keV-1 s-1 cm-2 arcsec-2";

/// Why a reconstruction failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ImagingError {
    /// Parameters out of range.
    #[error("invalid imaging parameters: {0}")]
    Params(#[from] ParamsError),
    /// The file has no visibilities marked `use`.
    #[error("no visibilities are marked for use")]
    NoVisibilities,
    /// EM needs the summed pixel rates, which this file lacks.
    #[error("EM needs the summed A/B/C/D rates (summed_rates), which this visibility file lacks")]
    MissingSummedRates,
    /// CLEAN failed.
    #[error("CLEAN: {0}")]
    Clean(#[from] CleanError),
    /// MEM failed.
    #[error("MEM_GE: {0}")]
    Mem(#[from] MemError),
    /// EM failed.
    #[error("EM: {0}")]
    Em(#[from] EmError),
    /// FWDFIT failed.
    #[error("VIS_FWDFIT: {0}")]
    Fwdfit(#[from] FwdfitError),
    /// The caller cancelled the reconstruction.
    #[error("cancelled")]
    Cancelled,
}

impl ImagingError {
    /// True when the caller's input (parameters or data) is at fault, so retrying is useless
    /// and the message can be shown to the user.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ImagingError::Params(_)
            | ImagingError::NoVisibilities
            | ImagingError::MissingSummedRates
            | ImagingError::Clean(_)
            | ImagingError::Mem(_)
            | ImagingError::Em(_) => true,
            ImagingError::Fwdfit(e) => e.is_bad_input(),
            ImagingError::Cancelled => false,
        }
    }
}

/// The FWDFIT shape for `Auto`: the DC rule, ellipse if E_high < 16 keV, else two circles.
pub fn resolve_shape(shape: FwdfitShape, energy_high_kev: f64) -> FwdfitShape {
    match shape {
        FwdfitShape::Auto if energy_high_kev < 16.0 => FwdfitShape::Ellipse,
        FwdfitShape::Auto => FwdfitShape::Multi,
        s => s,
    }
}

/// Reconstructs an image from `vis.used()` with the phase centre of `vis.meta`.
pub fn reconstruct(vis: &VisFile, params: &ValidParams) -> Result<Reconstruction, ImagingError> {
    reconstruct_cancellable(vis, params, &super::cancel::never)
}

/// [`reconstruct`], asking `cancel` between iterations of MEM, EM and FWDFIT (and before
/// starting); answers [`ImagingError::Cancelled`] once it says so.
pub fn reconstruct_cancellable(
    vis: &VisFile,
    params: &ValidParams,
    cancel: super::cancel::CancelCheck<'_>,
) -> Result<Reconstruction, ImagingError> {
    if cancel() {
        return Err(ImagingError::Cancelled);
    }
    let used = vis.used();
    if used.is_empty() {
        return Err(ImagingError::NoVisibilities);
    }
    let grid = params.grid();
    let center = vis.meta.phase_center_arcsec();
    let map = |data, unit: &str| Map {
        data,
        grid,
        center_stix_arcsec: center,
        unit: unit.to_string(),
    };
    let mut parameters = json!({
        "algorithm": params.algorithm.name(),
        "size_px": grid.n,
        "size_px_requested": params.size_px,
        "pixel_arcsec": grid.pixel_arcsec,
        "n_visibilities": used.len(),
        "detectors": used.iter().map(|v| v.label.clone()).collect::<Vec<_>>(),
    });
    let mut clean_extras = None;
    let mut fwdfit_extras = None;
    let (data, unit, diagnostics) = match params.algorithm {
        Algorithm::Bp | Algorithm::BpUniform => {
            let weighting = if params.algorithm == Algorithm::Bp {
                Weighting::Natural
            } else {
                Weighting::Uniform
            };
            parameters["weighting"] = json!(weighting);
            (back_project(&used, &grid, weighting), UNIT_FLUX, json!({}))
        }
        Algorithm::Clean => {
            let r = clean(&used, &grid, &params.clean)?;
            parameters["clean"] = json!({
                "niter": params.clean.niter,
                "gain": params.clean.gain,
                "beam_fwhm_arcsec": r.beam_fwhm_arcsec,
                "weighting": params.clean.weighting,
                "negative_max": params.clean.negative_max,
            });
            let diagnostics = json!({
                "iterations": r.iterations,
                "stop_reason": r.stop,
                "n_components": r.components.len(),
                "component_flux": r.components.iter().map(|c| c.flux).sum::<f64>(),
                "beam_sum": r.beam_sum,
            });
            clean_extras = Some(CleanExtras {
                components: r.components,
                residual: r.residual,
                beam_fwhm_arcsec: r.beam_fwhm_arcsec,
            });
            (r.image, UNIT_FLUX_PER_ARCSEC2, diagnostics)
        }
        Algorithm::Mem => {
            let r = super::mem::mem_ge_cancellable(&used, &grid, &params.mem, cancel)?;
            parameters["mem"] = json!({
                "maxiter": params.mem.maxiter,
                "tol": params.mem.tol,
                "total_flux_rule": params.mem.total_flux,
                "total_flux": r.total_flux,
                "percent_lambda": r.percent_lambda,
                "lambda": r.lambda,
            });
            let diagnostics = json!({
                "iterations": r.iterations,
                "stop_reason": r.stop,
                "converged": r.stop == super::mem::MemStop::Tolerance,
                "snr": r.snr,
                "chi2": r.chi2,
                "objective": r.objective,
                "lipschitz": r.lipschitz,
                "n_uv_cells": r.n_cells,
            });
            (r.image, UNIT_FLUX_PER_ARCSEC2, diagnostics)
        }
        Algorithm::Em => {
            let rates = vis
                .summed_rates
                .as_ref()
                .ok_or(ImagingError::MissingSummedRates)?;
            let used_isc: Vec<u8> = used.iter().map(|v| v.isc).collect();
            let dets: Vec<_> = rates
                .detectors
                .iter()
                .filter(|d| used_isc.contains(&d.isc))
                .cloned()
                .collect();
            let r =
                super::em::EmSystem::new(&dets, center, &grid)?.run_cancellable(&params.em, cancel);
            parameters["em"] = json!({
                "maxiter": params.em.maxiter,
                "tol": params.em.tol,
                "sumcase": rates.sumcase,
                "n_detectors": dets.len(),
                "m0": super::em::M0_IDEAL,
                "m1": super::em::M1_IDEAL,
            });
            let diagnostics = json!({
                "iterations": r.iterations,
                "stop_reason": r.stop,
                "criterion": finite_or_null(r.criterion),
                "c_statistic": finite_or_null(r.c_statistic),
            });
            (r.image, UNIT_FLUX_PER_ARCSEC2, diagnostics)
        }
        Algorithm::Fwdfit => {
            let shape = resolve_shape(params.fwdfit.shape, vis.meta.energy_range_kev[1]);
            let options = FwdfitOptions {
                shape,
                sources: params.fwdfit.sources as usize,
                uncertainty: params.fwdfit.uncertainty,
                seed: params.fwdfit.seed,
                roll_deg: vis.meta.map_wcs.roll_angle_deg,
            };
            let r = fwdfit::fit_cancellable(&used, &options, cancel)?;
            parameters["fwdfit"] = json!({
                "shape": shape,
                "shape_requested": params.fwdfit.shape,
                "sources": options.sources,
                "uncertainty": options.uncertainty,
                "seed": options.seed,
                "roll_deg": options.roll_deg,
            });
            let diagnostics = json!({
                "chi2_reduced": finite_or_null(r.chi2_reduced),
                "pso_runs": r.runs,
                "pso_iterations": r.iterations,
                "n_parameters": r.n_parameters,
            });
            let data = fwdfit::model_map(&r.sources, &grid);
            fwdfit_extras = Some(FwdfitExtras {
                sources: r.sources,
                chi2_reduced: r.chi2_reduced,
            });
            (data, UNIT_FLUX_PER_ARCSEC2, diagnostics)
        }
    };
    if cancel() {
        return Err(ImagingError::Cancelled);
    }
    Ok(Reconstruction {
        algorithm: params.algorithm,
        map: map(data, unit),
        parameters,
        diagnostics,
        clean: clean_extras,
        fwdfit: fwdfit_extras,
    })
}

fn finite_or_null(x: f64) -> serde_json::Value {
    if x.is_finite() { json!(x) } else { json!(null) }
}
