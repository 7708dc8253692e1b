//! `stix-archive ingest [--wait]` as an operator runs it: a report line per file, previews
//! made with --wait, a bad file reported with its reason while the rest go in (exit 1), and
//! re-ingesting changing nothing (exit 0, no new jobs).

use std::process::Command;

fn run(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stix-archive"))
        .current_dir(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sample(rel: &str) -> String {
    format!("{}/../data/stix/l1/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn ingest_wait_reports_every_file_and_makes_the_previews() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.fits");
    std::fs::write(&junk, b"SIMPLE  = this is not really FITS").unwrap();
    let flare = sample(
        "solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits",
    );
    let aux = sample("solo_L2_stix-aux-ephemeris_20221113_V01.fits");
    let (code, out, err) = run(
        dir.path(),
        &["ingest", "--wait", &flare, &aux, junk.to_str().unwrap()],
    );
    assert_eq!(
        code,
        Some(1),
        "a rejected file makes the batch fail: {out}{err}"
    );
    assert!(
        out.contains("2 new")
            && out.contains("1 rejected")
            && out.contains("1 preview jobs queued"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("preview ") && l.contains("SUCCEEDED")),
        "{out}"
    );
    assert!(
        err.contains("junk.fits") || out.contains("junk.fits"),
        "the bad file is named: {out}{err}"
    );
    // The good files went in and their previews exist.
    let images = std::fs::read_dir(dir.path().join("data/store/images/2211134748"))
        .unwrap()
        .count();
    assert!(images > 0);

    let (code, out, err) = run(dir.path(), &["ingest", "--wait", &flare, &aux]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("2 already present") && out.contains("0 preview jobs queued"),
        "{out}"
    );
}
