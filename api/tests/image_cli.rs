//! `stix-archive image` as other tools call it: the JSON line's keys, real FITS/PNG files,
//! sources where the community flare list puts the M1.2 flare, typed refusals.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stix-archive"));
    c.env_remove("RUST_LOG");
    c
}

fn data(rel: &str) -> String {
    format!("{}/../data/stix/{rel}", env!("CARGO_MANIFEST_DIR"))
}

const M12: &str =
    "l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits";
const AUX: &str = "l1/solo_L2_stix-aux-ephemeris_20221111_V01.fits";
const BKG: &str =
    "l1/solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits";
/// Community flare list location of the M1.2 flare (HPC seen from Solar Orbiter).
const FLARE_LIST_HPC: [f64; 2] = [824.768616, 144.524323];

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dist(a: &serde_json::Value, b: [f64; 2]) -> f64 {
    let (x, y) = (a[0].as_f64().unwrap(), a[1].as_f64().unwrap());
    ((x - b[0]).powi(2) + (y - b[1]).powi(2)).sqrt()
}

#[test]
fn every_algorithm_images_the_m12_flare_where_the_flare_list_puts_it() {
    let dir = tempfile::tempdir().unwrap();
    let vis = dir.path().join("vis.json");
    let (code, _, err) = run(&[
        "visibilities",
        "--l1",
        &data(M12),
        "--aux",
        &data(AUX),
        "--bkg",
        &data(BKG),
        "--time",
        "2022-11-11T11:36:40.271/2022-11-11T11:37:40.271",
        "--energy",
        "4-10",
        "--out",
        vis.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let mut fluxes = Vec::new();
    for alg in ["bp", "bp-uniform", "clean", "mem", "em", "fwdfit"] {
        let fits = dir.path().join(format!("{alg}.fits"));
        let png = dir.path().join(format!("{alg}.png"));
        let (code, out, err) = run(&[
            "image",
            "--vis",
            vis.to_str().unwrap(),
            "--algorithm",
            alg,
            "--out",
            fits.to_str().unwrap(),
            "--png",
            png.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{alg}: {err}");
        assert_eq!(out.trim().lines().count(), 1, "one JSON line");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        for key in [
            "algorithm",
            "wall_s",
            "peak_hpc_arcsec",
            "centroid_hpc_arcsec",
            "total_flux",
            "fits",
            "png",
            "quality",
        ] {
            assert!(v.get(key).is_some(), "{alg}: key {key} missing in {v}");
        }
        // The grade is on the line and in the FITS header.
        let grade = v["quality"]["grade"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"));
        assert!(["GOOD", "FAIR", "POOR"].contains(&grade), "{v}");
        assert_eq!(v["algorithm"], alg);
        assert!(v["wall_s"].as_f64().unwrap() >= 0.0);
        // Within a few arcsec of the community location (its own uncertainty is a few ″).
        let d = dist(&v["centroid_hpc_arcsec"], FLARE_LIST_HPC);
        assert!(d < 6.0, "{alg}: centroid {d}″ from the flare list: {v}");
        let fits_bytes = std::fs::read(&fits).unwrap();
        assert!(
            fits_bytes.starts_with(b"SIMPLE  =") && fits_bytes.len().is_multiple_of(2880),
            "{alg}: a FITS file"
        );
        let header = String::from_utf8_lossy(&fits_bytes[..2880 * 4]);
        assert!(
            header.contains(&format!("QUALITY = '{grade}")),
            "{alg}: QUALITY {grade} in the FITS header"
        );
        let png_bytes = std::fs::read(&png).unwrap();
        assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{alg}: a PNG");
        let width = u32::from_be_bytes(png_bytes[16..20].try_into().unwrap());
        assert!(width >= 320, "{alg}: PNG width {width}");
        if let Some(f) = v["total_flux"].as_f64() {
            fluxes.push((alg, f));
        } else {
            assert!(
                alg.starts_with("bp"),
                "only back-projections have no total flux"
            );
        }
    }
    // Flux-conserving maps (EM, MEM, FWDFIT: sources without a residual floor) agree within 20 %.
    let pick = |n: &str| fluxes.iter().find(|(a, _)| *a == n).unwrap().1;
    let (em, mem, fwd) = (pick("em"), pick("mem"), pick("fwdfit"));
    for (name, f) in [("mem", mem), ("fwdfit", fwd)] {
        assert!((f - em).abs() < 0.2 * em, "{name} flux {f} vs EM {em}");
    }
}

#[test]
fn image_straight_from_l1_files() {
    let dir = tempfile::tempdir().unwrap();
    let fits = dir.path().join("clean.fits");
    let (code, out, err) = run(&[
        "image",
        "--l1",
        &data(M12),
        "--aux",
        &data(AUX),
        "--bkg",
        &data(BKG),
        "--time",
        "2022-11-11T11:36:40.271/2022-11-11T11:37:40.271",
        "--energy",
        "16-28",
        "--algorithm",
        "clean",
        "--size",
        "101",
        "--pixel",
        "1.5",
        "--out",
        fits.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["png"].is_null());
    assert!(dist(&v["peak_hpc_arcsec"], FLARE_LIST_HPC) < 15.0, "{v}");
    assert!(fits.exists());
}

#[test]
fn nonsense_is_refused_with_one_message_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.fits");
    let o = out.to_str().unwrap();
    let xrv = data("reference/xrayvision_stix_vis_20200607.json");
    let m12 = data(M12);
    let cases: Vec<(Vec<&str>, Option<i32>)> = vec![
        (
            vec![
                "image",
                "--vis",
                "/nonexistent.json",
                "--algorithm",
                "bp",
                "--out",
                o,
            ],
            Some(1),
        ),
        (
            vec!["image", "--vis", &xrv, "--algorithm", "bp", "--out", o],
            Some(1),
        ), // not the stix-vis layout
        (
            vec![
                "image",
                "--vis",
                "/nonexistent.json",
                "--algorithm",
                "magic",
                "--out",
                o,
            ],
            Some(2),
        ),
        (
            vec!["image", "--l1", &m12, "--algorithm", "bp", "--out", o],
            Some(2),
        ), // no --time/--energy
    ];
    for (args, expect) in cases {
        let (code, _, err) = run(&args);
        assert_eq!(code, expect, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let dir2 = tempfile::tempdir().unwrap();
    let vis = dir2.path().join("vis.json");
    let (code, _, err) = run(&[
        "visibilities",
        "--l1",
        &data(M12),
        "--aux",
        &data(AUX),
        "--time",
        "2022-11-11T11:36:40.271/2022-11-11T11:37:40.271",
        "--energy",
        "4-10",
        "--out",
        vis.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    for (size, pixel) in [("8", "2"), ("2000", "2"), ("129", "0"), ("129", "-3")] {
        let pixel_arg = format!("--pixel={pixel}");
        let (code, _, err) = run(&[
            "image",
            "--vis",
            vis.to_str().unwrap(),
            "--algorithm",
            "clean",
            "--size",
            size,
            &pixel_arg,
            "--out",
            o,
        ]);
        assert_eq!(code, Some(1), "size {size} pixel {pixel}: {err}");
        let named = if size == "129" { "pixel" } else { "size" };
        assert!(
            err.starts_with("stix-archive: ") && err.contains(named),
            "the message names the parameter: {err}"
        );
    }
    assert!(!out.exists(), "no output file on failure");
}
