//! The script renderers without a server: every input lands in the text, the embedded JSON
//! reads back exactly, the Python templates are valid Python (`py_compile` of `$STIX_PYTHON`)
//! and the IDL procedure compiles in GDL (`gdl`, Debian's `gnudatalanguage`) when it is
//! installed as CI installs it.

use domain::scripts::*;
use std::path::Path;
use std::process::Command;

fn inputs(algorithm: &str) -> ImageInputs {
    let file = |uid: i64, name: &str| FileRef {
        request_uid: uid,
        version: 1,
        file_name: name.to_string(),
        sha256: "ab".repeat(32),
        url: format!("http://127.0.0.1:8000/files/science/{uid}.fits?version=1"),
    };
    ImageInputs {
        image_id: "SW1hZ2U6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw".into(),
        fits_url: "http://127.0.0.1:8000/files/images/x.fits".into(),
        fits_file_name: "4-10keV_20221111T113640_clean_x.fits".into(),
        fits_sha256: "cd".repeat(32),
        png_url: "http://127.0.0.1:8000/files/images/x.png".into(),
        science: file(
            2211116471,
            "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits",
        ),
        background: Some(file(
            2211098157,
            "solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits",
        )),
        background_time_range_utc: Some([
            "2022-11-09T12:17:30.000".into(),
            "2022-11-09T13:10:50.000".into(),
        ]),
        aspect: Some(file(
            20221111,
            "solo_L2_stix-aux-ephemeris_20221111_V01.fits",
        )),
        time_range_utc: [
            "2022-11-11T11:36:40.271".into(),
            "2022-11-11T11:37:40.271".into(),
        ],
        energy_range_kev: [4.0, 10.0],
        center_stix_arcsec: [71.87, -827.71],
        center_hpc_arcsec: [826.31, 143.84],
        roll_deg: -1.459,
        pointing_arcsec: [-5.33, 92.96],
        observer: Observer {
            lon_deg: -21.45,
            lat_deg: 7.87,
            distance_m: 9.312e10,
        },
        image_size_px: 129,
        pixel_arcsec: 2.0,
        algorithm: algorithm.into(),
        detectors: vec!["10a".into(), "10b".into(), "3c".into()],
        parameters: serde_json::json!({"algorithm": algorithm, "clean": {"niter": 200, "gain": 0.1, "beam_fwhm_arcsec": 20.0, "weighting": "natural"}, "note": "quote ' \" \\ '''"}),
        calibration_version: "stix-archive-cal-1: no ELUT".into(),
        elut_file: None,
        software_version: "stix-archive 0.1.0".into(),
        policy_version: Some("preview-v1".into()),
    }
}

fn python() -> String {
    std::env::var("STIX_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Runs the Python `code` with the script at `path` as its argument and reads the JSON it
/// prints.
fn python_json(code: &str, path: &Path) -> serde_json::Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .arg(path)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn python_script_holds_every_input_and_compiles() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ["bp", "clean", "mem", "em", "fwdfit"] {
        let inp = inputs(alg);
        let text = image_python(&inp).unwrap();
        assert!(
            text.contains("not meant\nfor publication without checking"),
            "header warning"
        );
        assert!(text.contains("--method") && text.contains("reproduce"));
        let path = dir.path().join(format!("{alg}.py"));
        std::fs::write(&path, &text).unwrap();
        // The embedded JSON reads back exactly (quotes and backslashes included).
        let back = python_json(
            "import ast,json,sys; t=open(sys.argv[1]).read(); ast.parse(t); ns={}; exec(t.split('def download')[0], ns); print(json.dumps(ns['INPUTS']))",
            &path,
        );
        assert_eq!(back, serde_json::to_value(&inp).unwrap());
    }
}

/// The ELUT choice of the image reaches both scripts: the IDL passes `elut_corr`, and the
/// Python script, run against the installed stixpy, switches stixpy's correction off for an
/// uncorrected image and, for a corrected one, finds that stixpy picks the very table we used
/// for the date (selected independently here, by `domain::calibration::elut::elut_for`).
#[test]
fn scripts_follow_the_images_elut_choice() {
    use domain::calibration::elut::{ElutChoice, elut_for};
    let date = chrono::DateTime::parse_from_rfc3339("2022-11-11T11:36:40Z")
        .unwrap()
        .to_utc();
    let ElutChoice::Table(table) = elut_for(date) else {
        panic!("the 2022 ELUT ships with the crate");
    };
    let dir = tempfile::tempdir().unwrap();
    for elut in [None, Some(table.file.clone())] {
        let mut inp = inputs("clean");
        inp.elut_file = elut.clone();
        let pro = idl_procedure(&inp).unwrap();
        let flag = if elut.is_some() { 1 } else { 0 };
        assert!(pro.contains(&format!("elut_corr = {flag}\n")), "{pro}");
        assert_eq!(pro.matches("elut_corr=elut_corr").count(), 3);
        assert!(pro.contains(elut.as_deref().unwrap_or("none")));

        let path = dir.path().join("elut.py");
        std::fs::write(&path, image_python(&inp).unwrap()).unwrap();
        // Load the script's functions (not main), apply the choice, then ask stixpy's own
        // correction for the factors of the 4-10 keV band (science channels 1-6).
        let probe = r#"
import json, sys
import numpy as np
from astropy.time import Time
t = open(sys.argv[1]).read()
ns = {"__name__": "probe"}
exec(t, ns)
used = ns["_follow_elut_choice"](Time(ns["INPUTS"]["time_range_utc"][0]))
import stixpy.calibration.visibility as v
from types import SimpleNamespace
if hasattr(v, "get_elut_correction") and ns["INPUTS"]["elut_file"] is None:
    hi, lo = v.get_elut_correction(np.arange(1, 7), SimpleNamespace())
    ones = bool(np.all(hi == 1) and np.all(lo == 1))
else:
    ones = None
print(json.dumps({"used": used, "ones": ones, "stixpy_table": ns["_stixpy_elut_file"](Time(ns["INPUTS"]["time_range_utc"][0]))}))
"#;
        let got = python_json(probe, &path);
        assert_eq!(
            got["stixpy_table"].as_str(),
            Some(table.file.as_str()),
            "stixpy and the archive pick the same ELUT for the date: {got}"
        );
        match &elut {
            None => {
                assert_eq!(got["used"], "none", "{got}");
                assert_eq!(got["ones"], true, "stixpy's correction switched off: {got}");
            }
            Some(file) => assert_eq!(got["used"].as_str(), Some(file.as_str()), "{got}"),
        }
    }
}

#[test]
fn idl_procedure_names_every_input_and_compiles_in_gdl() {
    let inp = inputs("clean");
    let text = idl_procedure(&inp).unwrap();
    let name = idl_procedure_name(&inp.image_id);
    assert!(text.contains(&format!("pro {name}, out_dir=out_dir")));
    for needle in [
        "stx_construct_calibrated_visibility",
        "stx_vis_clean",
        "stx_map2fits",
        "'2022-11-11T11:36:40.271'",
        "4.0d",
        "71.87d",
        "'10a', '10b', '3c'",
        "2211116471",
        "not meant",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.pro"));
    std::fs::write(&path, &text).unwrap();
    gdl_compiles(dir.path(), &name);
}

/// `.compile` in GDL must report no syntax error.
fn gdl_compiles(dir: &Path, name: &str) {
    let out = Command::new("gdl")
        .current_dir(dir)
        .args(["-quiet", "-e", &format!(".compile {name}")])
        .output()
        .expect("gdl (apt-get install gnudatalanguage) is needed to check the IDL procedure");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // GDL exits 0 even on a syntax error: read what it says.
    let lower = all.to_lowercase();
    assert!(
        out.status.success()
            && !lower.contains("syntax error")
            && lower.contains(&format!("compiled module: {name}")),
        "GDL refused {name}.pro:\n{all}"
    );
}

#[test]
fn animation_and_overlay_templates_compile() {
    let frame = |t: &str, alg: &str| AnimationFrame {
        image_id: format!("id-{t}"),
        fits_url: "http://127.0.0.1:8000/files/images/x.fits".into(),
        fits_file_name: format!("{t}.fits"),
        time_start: t.into(),
        energy_low_kev: 4.0,
        energy_high_kev: 10.0,
        algorithm: alg.into(),
    };
    let a = animation_python(&AnimationInputs {
        animation_id: "QW5pbWF0aW9uOng".into(),
        fps: 2.0,
        gif_name: "animation.gif".into(),
        frames: vec![
            frame("2022-11-11T11:46:40", "bp"),
            frame("2022-11-11T11:36:40", "clean"),
        ],
        software_version: "stix-archive 0.1.0".into(),
    })
    .unwrap();
    let o = overlay_python(&OverlayInputs {
        base: frame("2022-11-11T11:36:40", "clean"),
        contours: vec![frame("2022-11-11T11:36:40", "clean")],
        levels_percent: vec![30.0, 50.0, 70.0, 90.0],
        png_name: "overlay.png".into(),
        software_version: "stix-archive 0.1.0".into(),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("a.py", a), ("o.py", o)] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let out = Command::new(python())
            .args(["-m", "py_compile"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        overlay_python(&OverlayInputs {
            base: frame("t", "bp"),
            contours: vec![],
            levels_percent: vec![50.0],
            png_name: "o.png".into(),
            software_version: "x".into(),
        })
        .is_err()
    );
}
