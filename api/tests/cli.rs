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

fn l1(name: &str) -> String {
    format!("{}/../data/stix/l1/{name}", env!("CARGO_MANIFEST_DIR"))
}
const M12: &str =
    "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits";
const AUX_1111: &str = "solo_L2_stix-aux-ephemeris_20221111_V01.fits";
const BKG: &str =
    "solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits";

#[test]
fn locate_prints_the_contract_fields_and_finds_the_m12_flare() {
    let out = bin()
        .args(["locate", "--l1", &l1(M12), "--aux", &l1(AUX_1111)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in [
        "hpc_arcsec",
        "stix_arcsec",
        "pointing_source",
        "sidelobe_ratio",
        "time_range",
        "energy_range_kev",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    // Community flare list (data/stix/flare_reference_locations.csv): (824.768616, 144.524323).
    let (x, y) = (
        v["hpc_arcsec"][0].as_f64().unwrap(),
        v["hpc_arcsec"][1].as_f64().unwrap(),
    );
    let d = ((x - 824.768616f64).powi(2) + (y - 144.524323f64).powi(2)).sqrt();
    assert!(d < 8.0, "{d}″ from the flare list: {v}");
    assert_eq!(v["pointing_source"], "SAS");
    assert_eq!(v["energy_range_kev"], serde_json::json!([6.0, 10.0]));
}

#[test]
fn visibilities_writes_stix_vis_json_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("vis.json");
    let out = bin()
        .args([
            "visibilities",
            "--l1",
            &l1(M12),
            "--aux",
            &l1(AUX_1111),
            "--bkg",
            &l1(BKG),
            "--time",
            "2022-11-11T11:36:40.271/2022-11-11T11:37:40.271",
            "--energy",
            "4-10",
            "--center",
            "75.2917910115992,-823.1204771145659",
            "--no-elut",
            "--out",
            out_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    assert_eq!(v["format"], "stix-vis");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["time_range"]["start"], "2022-11-11T11:36:40.271");
    assert_eq!(v["energy_range_kev"], serde_json::json!([4.0, 10.0]));
    assert_eq!(v["phase_center"]["frame"], "stix");
    for key in [
        "obstime",
        "observer_hgs",
        "reference_hpc_arcsec",
        "rotation_angle_deg",
        "roll_angle_deg",
        "stix_pointing_arcsec",
        "pointing_source",
    ] {
        assert!(v["map_wcs"].get(key).is_some(), "map_wcs.{key} missing");
    }
    assert!(v["total_counts"].as_f64().unwrap() > 0.0 && v["calibration_version"].is_string());
    let vis = v["visibilities"].as_array().unwrap();
    assert_eq!(vis.iter().filter(|x| x["use"] == true).count(), 24);
    for key in [
        "label",
        "isc",
        "u",
        "v",
        "real",
        "imag",
        "amplitude_error",
        "use",
    ] {
        assert!(vis[0].get(key).is_some(), "visibility.{key} missing");
    }
    // The reference file (independent recipe) has 10a = det 3: Re 1112.33, Im −311.70.
    let ref_json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../data/stix/reference/visibilities_20221111_M1.2.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    for r in ref_json["cases"][0]["visibilities"].as_array().unwrap() {
        let ours = vis.iter().find(|x| x["isc"] == r["det"]).unwrap();
        let amp = r["amp"].as_f64().unwrap();
        for (a, b) in [("real", "re"), ("imag", "im")] {
            let diff = (ours[a].as_f64().unwrap() - r[b].as_f64().unwrap()).abs();
            assert!(diff < 1e-3 * amp, "{} {a}: {diff}", r["label"]);
        }
    }
    assert!(domain::visfile::VisFile::read(&out_path).is_ok());
}

#[test]
fn science_commands_refuse_bad_input_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["locate".to_string(), "--l1".into(), "/etc/hostname".into()],
        vec!["locate".into(), "--l1".into(), l1(AUX_1111)],
        vec![
            "locate".into(),
            "--l1".into(),
            l1(M12),
            "--time".into(),
            "2022-11-11T13:00:00/2022-11-11T13:01:00".into(),
        ],
        vec![
            "visibilities".into(),
            "--l1".into(),
            l1(M12),
            "--time".into(),
            "2022-11-11T11:36:40/2022-11-11T11:37:40".into(),
            "--energy".into(),
            "40-60".into(),
            "--out".into(),
            dir.path().join("x.json").display().to_string(),
        ],
    ] {
        let out = bin().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("stix-archive: ") && !err.contains("panicked"),
            "{err}"
        );
    }
    assert!(
        !dir.path().join("x.json").exists(),
        "no output file on failure"
    );
    let out = bin()
        .args(["locate", "--l1", &l1(M12), "--energy", "10-4"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses an impossible band"
    );
}
