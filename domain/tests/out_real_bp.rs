//! Real data end to end: the natural back-projection of the reference visibilities of the
//! 2022-11-11 M1.2 flare (`data/stix/reference/visibilities_20221111_M1.2.json`, 4–10 keV,
//! 129×129 × 2″) written as FITS and PNG. sunpy must put the brightest pixel at the reference
//! HPC peak computed independently (`bp_natural_129x129_2as.peak_hpc`, within one pixel), and
//! the quick-look's brightest screen pixel must be there too (within 1.5 pixels).

mod out_common;

use domain::imaging::bp::{Weighting, back_project};
use domain::imaging::{Algorithm, ImageGrid, Map, Reconstruction};
use domain::output::Provenance;
use domain::output::fits_map::write_map_fits;
use domain::output::quicklook::{QuicklookOptions, write_quicklook_png};
use domain::visfile::Visibility;
use out_common::*;
use serde_json::Value;
use std::process::Command;

fn reference() -> Value {
    let path = data_dir().join("reference/visibilities_20221111_M1.2.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bp_reconstruction(case: &Value) -> Reconstruction {
    let vis: Vec<Visibility> = case["visibilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Visibility {
            label: v["label"].as_str().unwrap().to_string(),
            isc: v["det"].as_u64().unwrap() as u8,
            u: v["u"].as_f64().unwrap(),
            v: v["v"].as_f64().unwrap(),
            real: v["re"].as_f64().unwrap(),
            imag: v["im"].as_f64().unwrap(),
            amplitude_error: v["sigamp"].as_f64().unwrap(),
            used: true,
        })
        .collect();
    let grid = ImageGrid {
        n: 129,
        pixel_arcsec: 2.0,
    };
    Reconstruction {
        algorithm: Algorithm::Bp,
        map: Map {
            data: back_project(&vis, &grid, Weighting::Natural),
            grid,
            center_stix_arcsec: CENTER_STIX_ARCSEC,
            unit: "ct keV-1 s-1 cm-2".to_string(),
        },
        parameters: serde_json::json!({"weighting": "natural", "image_size": 129, "pixel_arcsec": 2.0}),
        diagnostics: serde_json::json!({}),
        clean: None,
        fwdfit: None,
    }
}

#[test]
fn real_bp_lands_on_the_reference_peak() {
    let r = reference();
    let case = &r["cases"][0];
    let rec = bp_reconstruction(case);
    let want = [
        case["bp_natural_129x129_2as"]["peak_hpc"][0]
            .as_f64()
            .unwrap(),
        case["bp_natural_129x129_2as"]["peak_hpc"][1]
            .as_f64()
            .unwrap(),
    ];
    let meta = reference_meta();
    let dir = tempfile::tempdir().unwrap();

    // FITS through sunpy.
    let fits = dir.path().join("bp.fits");
    write_map_fits(&fits, &rec, &meta, &Provenance::default()).unwrap();
    let python = std::env::var("STIX_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sunpy_check.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&fits)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} ({e}): `pip install \"sunpy[map]\"` or set STIX_PYTHON")
        });
    assert!(
        out.status.success(),
        "sunpy_check.py failed; `pip install \"sunpy[map]\"` if sunpy is missing:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = [
        j["peak_world_arcsec"][0].as_f64().unwrap(),
        j["peak_world_arcsec"][1].as_f64().unwrap(),
    ];
    let d = (got[0] - want[0]).hypot(got[1] - want[1]);
    eprintln!("sunpy BP peak {got:?}, reference {want:?}: {d:.3} arcsec");
    assert!(
        d <= 2.0,
        "sunpy BP peak {got:?} vs reference {want:?} ({d} arcsec)"
    );
    assert!(
        j["warnings"].as_array().unwrap().is_empty(),
        "{}",
        j["warnings"]
    );

    // PNG: the brightest screen pixel.
    let png_path = dir.path().join("bp.png");
    let opts = QuicklookOptions::default();
    write_quicklook_png(&png_path, &rec, &meta, &opts).unwrap();
    if let Ok(keep) = std::env::var("STIX_QUICKLOOK_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&png_path, std::path::Path::new(&keep).join("real_bp.png")).unwrap();
    }
    let mut reader = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ))
    .read_info()
    .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let w = info.width as usize;
    let rect = opts.plot_rect().unwrap();
    let mut best = (-1.0, 0, 0);
    for y in rect.top_px..rect.top_px + rect.side_px {
        for x in rect.left_px..rect.left_px + rect.side_px {
            let i = (y * w + x) * 3;
            let l = 0.2126 * f64::from(buf[i])
                + 0.7152 * f64::from(buf[i + 1])
                + 0.0722 * f64::from(buf[i + 2]);
            if l > best.0 {
                best = (l, x, y);
            }
        }
    }
    let fov = 129.0 * 2.0;
    let s = fov / rect.side_px as f64;
    let screen = [
        CENTER_HPC_ARCSEC[0] - fov / 2.0 + (best.1 - rect.left_px) as f64 * s + s / 2.0,
        CENTER_HPC_ARCSEC[1] + fov / 2.0 - (best.2 - rect.top_px) as f64 * s - s / 2.0,
    ];
    let d = (screen[0] - want[0]).hypot(screen[1] - want[1]);
    assert!(
        d <= 3.0,
        "PNG peak at HPC {screen:?}, reference {want:?} ({d} arcsec)"
    );
}
