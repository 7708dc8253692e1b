//! The automatic preview pipeline end to end on the bundled sample: ingest → preview jobs
//! on the real queue and workers → images (FITS + PNG with checksums) and recorded skips,
//! visible over GraphQL; re-ingesting changes nothing.

use crate::support::{TIMEOUT, TestApp, spawn_app};
use api::archive::{ingest_and_queue, wait_for_jobs};
use api::cli::ingest::DEMO_FILES;
use jobs::store::entities::{image, preview_skip, reconstruction_job, science_file};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const M12_FLARE: i64 = 2211111136;
const C12_FLARE: i64 = 2211130649;

fn sample() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix"));
    DEMO_FILES.iter().map(|f| dir.join(f)).collect()
}

/// Ingests the sample and waits (on job events, with a timeout) for the previews.
async fn ingest_sample(app: &TestApp) -> Vec<reconstruction_job::Model> {
    let settings = jobs::pipeline::PipelineSettings::default();
    let (report, jobs) = ingest_and_queue(&app.state, &settings, &sample(), |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(report.rejected, 0, "{:?}", report.outcomes);
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    tokio::time::timeout(TIMEOUT * 4, wait_for_jobs(&app.state, &ids))
        .await
        .expect("previews finish in time")
        .unwrap()
}

fn sha256(path: &std::path::Path) -> String {
    jobs::pipeline::render::sha256_file(path).unwrap()
}

#[tokio::test]
async fn preview_pipeline_on_the_sample() {
    let app = spawn_app().await;
    let jobs = ingest_sample(&app).await;
    assert_eq!(jobs.len(), 2, "one preview job per flare file");
    for j in &jobs {
        assert_eq!(j.status, "SUCCEEDED", "{:?}", j.error_message);
        assert_eq!(j.progress_done, j.progress_total);
    }
    let db = &app.state.db;
    let bkg = science_file::Entity::find()
        .filter(science_file::Column::ProductKind.eq("background"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let images = image::Entity::find().all(db).await.unwrap();
    let flare_row = |fid: i64| async move {
        jobs::store::entities::flare::Entity::find()
            .filter(jobs::store::entities::flare::Column::FlareId.eq(fid))
            .one(db)
            .await
            .unwrap()
            .unwrap()
    };
    let m12 = flare_row(M12_FLARE).await;
    let c12 = flare_row(C12_FLARE).await;

    // The M1.2 flare is big: several 60 s boxes 10 min apart in 4–10 keV, five algorithms each.
    let mut boxes: BTreeMap<(i64, String), BTreeSet<String>> = BTreeMap::new();
    for i in images
        .iter()
        .filter(|i| i.flare_id == Some(m12.id) && i.energy_low_kev == 4.0)
    {
        boxes
            .entry((i.time_start.timestamp_millis(), i.time_end.to_rfc3339()))
            .or_default()
            .insert(i.algorithm.clone());
    }
    assert!(boxes.len() >= 4, "several boxes: {boxes:?}");
    let algs: BTreeSet<String> = ["bp", "clean", "mem", "em", "fwdfit"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (k, a) in &boxes {
        assert_eq!(a, &algs, "box {k:?} has all five algorithms");
    }
    let mids_ms: BTreeSet<i64> = images
        .iter()
        .filter(|i| i.flare_id == Some(m12.id) && i.energy_low_kev == 4.0 && i.algorithm == "bp")
        .map(|i| (i.time_start.timestamp_millis() + i.time_end.timestamp_millis()) / 2)
        .collect();
    let mids: Vec<f64> = mids_ms.into_iter().map(|ms| ms as f64 / 1000.0).collect();
    for w in mids.windows(2) {
        // Box centres a multiple of 600 s apart (a box between two imaged ones may be
        // skipped for too few net counts); whole L1 bins of 40–80 s move the actual centres
        // a little.
        let steps = ((w[1] - w[0]) / 600.0).round();
        assert!(
            steps >= 1.0 && (w[1] - w[0] - steps * 600.0).abs() < 90.0,
            "box spacing {} s",
            w[1] - w[0]
        );
    }
    // The peak box contains the listed peak 11:36:56 and is within a bin of 60 s long.
    let peak = m12.peak_time.timestamp() as f64;
    assert!(
        mids.iter().any(|m| (m - peak).abs() < 60.0),
        "a box at the peak: {mids:?}"
    );

    // The C1.2 flare in 16–28 keV is background-dominated (issue #11: 13 226 counts of which
    // 12 412 background): preview-v2 skips it, with its net counts in the reason.
    let c12_high: Vec<_> = images
        .iter()
        .filter(|i| i.flare_id == Some(c12.id) && i.energy_low_kev == 16.0)
        .collect();
    assert!(c12_high.is_empty(), "no 16–28 keV image of the C1.2 flare");
    let c12_skips = preview_skip::Entity::find()
        .filter(preview_skip::Column::FlareId.eq(c12.id))
        .filter(preview_skip::Column::EnergyLowKev.eq(16.0))
        .all(db)
        .await
        .unwrap();
    let skip = c12_skips
        .iter()
        .find(|s| s.reason.contains("min_net_counts"))
        .unwrap_or_else(|| panic!("a net-count skip: {c12_skips:?}"));
    let (total, bkg_counts, net) = (
        skip.counts.unwrap(),
        skip.background_counts.expect("background counts recorded"),
        skip.net_counts.expect("net counts recorded"),
    );
    assert!((total - bkg_counts - net).abs() < 1e-6 * total.max(1.0));
    assert!(bkg_counts > 0.5 * total && net < 10_000.0, "{skip:?}");
    assert!(
        skip.reason.contains(&format!("{net:.0}")),
        "the reason states the net counts: {}",
        skip.reason
    );
    assert_eq!(skip.policy_version, "preview-v2");

    // The M1.2 4–10 keV peak box is graded GOOD by every algorithm.
    let peak_s = m12.peak_time.timestamp();
    let peak_box: Vec<_> = images
        .iter()
        .filter(|i| {
            i.flare_id == Some(m12.id)
                && i.energy_low_kev == 4.0
                && i.time_start.timestamp() <= peak_s
                && i.time_end.timestamp() >= peak_s
        })
        .collect();
    assert_eq!(peak_box.len(), 5, "the peak box has five images");
    for i in &peak_box {
        assert_eq!(
            i.quality_grade.as_deref(),
            Some("GOOD"),
            "{}: {:?}",
            i.algorithm,
            i.quality
        );
    }
    // Every image is graded; the grade is in its FITS header, which sunpy opens as one map.
    let mut seen = BTreeSet::new();
    for i in &images {
        let grade = i.quality_grade.as_deref().expect("graded");
        let q = i.quality.as_ref().expect("assessment stored");
        assert_eq!(q["grade"], grade);
        assert!(q["figures"]["net_counts"].as_f64().unwrap() > 0.0, "{q}");
        if seen.insert(i.algorithm.clone()) {
            let (fits_grade, why) = crate::support::sunpy_quality(&app.data_dir.join(&i.fits_path));
            assert_eq!(fits_grade, grade, "{}", i.algorithm);
            assert!(!why.is_empty());
        }
    }
    assert_eq!(seen.len(), 5, "every algorithm's FITS checked with sunpy");

    // Every image: background chosen and recorded, policy version and inputs, files with checksums.
    for i in &images {
        assert_eq!(i.background_file_id, Some(bkg.id));
        assert_eq!(i.policy_version.as_deref(), Some("preview-v2"));
        let inputs = i.policy_inputs.as_ref().unwrap();
        assert_eq!(
            inputs["context"]["background"]["outcome"], "chosen",
            "{inputs}"
        );
        assert!(
            inputs["context"]["background"]["distance_days"]
                .as_f64()
                .unwrap()
                < 15.0
        );
        let fits = app.data_dir.join(&i.fits_path);
        let png = app.data_dir.join(i.png_path.as_ref().unwrap());
        assert_eq!(sha256(&fits), i.fits_sha256, "{}", fits.display());
        assert_eq!(&sha256(&png), i.png_sha256.as_ref().unwrap());
        assert!(i.total_counts > i.background_counts && i.background_counts > 0.0);
        assert!(i.calibration_version.starts_with("stix-archive-cal"));
    }
    // 16–28 keV skips of the M1.2 flare say why (counts below min_counts).
    let m12_skips = preview_skip::Entity::find()
        .filter(preview_skip::Column::FlareId.eq(m12.id))
        .all(db)
        .await
        .unwrap();
    assert!(m12_skips.iter().all(|s| !s.reason.is_empty()));

    // The same over GraphQL.
    let r = app
        .graphql(
            "query($f: BigInt!) { images(first: 100, filter: { flareId: $f }) { totalCount } flare(flareId: $f) { imageCount previewSkips { reason energyLowKev counts } } }",
            json!({ "f": M12_FLARE }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let n_m12 = images.iter().filter(|i| i.flare_id == Some(m12.id)).count() as i64;
    assert_eq!(r["data"]["images"]["totalCount"], n_m12);
    assert_eq!(r["data"]["flare"]["imageCount"], n_m12);
    assert_eq!(
        r["data"]["flare"]["previewSkips"].as_array().unwrap().len(),
        m12_skips.len()
    );
    // Quality over GraphQL, and `minQuality` hides what is graded worse.
    let r = app
        .graphql(
            "query($f: BigInt!) { all: images(first: 100, filter: { flareId: $f }) { edges { node { quality { grade reasons figures { netCounts snr peakEdgeDistanceArcsec } } } } } good: images(first: 100, filter: { flareId: $f, minQuality: GOOD }) { totalCount } fair: images(first: 100, filter: { flareId: $f, minQuality: FAIR }) { totalCount } }",
            json!({ "f": M12_FLARE }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let grades: Vec<&str> = r["data"]["all"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["quality"]["grade"].as_str().unwrap())
        .collect();
    let count = |g: &[&str]| grades.iter().filter(|x| g.contains(x)).count();
    assert_eq!(r["data"]["good"]["totalCount"], count(&["GOOD"]), "{r}");
    assert_eq!(
        r["data"]["fair"]["totalCount"],
        count(&["GOOD", "FAIR"]),
        "{r}"
    );
    for e in r["data"]["all"]["edges"].as_array().unwrap() {
        let q = &e["node"]["quality"];
        assert_eq!(
            q["grade"] == "GOOD",
            q["reasons"].as_array().unwrap().is_empty(),
            "reasons exactly when not GOOD: {q}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn reingesting_changes_nothing() {
    let app = spawn_app().await;
    ingest_sample(&app).await;
    let db = &app.state.db;
    let count = || async {
        (
            image::Entity::find().count(db).await.unwrap(),
            preview_skip::Entity::find().count(db).await.unwrap(),
            science_file::Entity::find().count(db).await.unwrap(),
            reconstruction_job::Entity::find().count(db).await.unwrap(),
        )
    };
    let before = count().await;
    let files_before: BTreeSet<PathBuf> = walk(&app.data_dir);
    let settings = jobs::pipeline::PipelineSettings::default();
    let (report, jobs) = ingest_and_queue(&app.state, &settings, &sample(), |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(report.already_present, sample().len());
    assert!(jobs.is_empty(), "no new preview jobs");
    assert_eq!(count().await, before);
    // Running a finished preview job's work again does not duplicate anything either.
    let job = reconstruction_job::Entity::find()
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let runner = jobs::pipeline::PreviewRunner::new(db.clone(), app.data_dir.clone());
    let progress = jobs::worker::Progress::new(
        db.clone(),
        app.state.events.clone(),
        job.clone(),
        jobs::worker::PROGRESS_EVERY,
    );
    runner.run(&job, progress).await.unwrap();
    assert_eq!(count().await, before);
    assert_eq!(walk(&app.data_dir), files_before);
    app.stop().await;
}

fn walk(dir: &std::path::Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path());
            }
        }
    }
    out
}

/// The inbox of `serve`: files dropped there are ingested, their previews made, and they are
/// moved to `processed/` (or `rejected/` with the reason). With no flare list the flare is
/// detected in the file's own light curve; with no background file the images say so.
#[tokio::test]
async fn inbox_detected_flare_without_background() {
    let inbox = tempfile::tempdir().unwrap();
    let inbox_dir = inbox.path().join("inbox");
    let app =
        crate::support::spawn_app_with(&[("STIX__STORAGE__INBOX", inbox_dir.to_str().unwrap())])
            .await;
    let mut events = app.state.events.subscribe();
    std::fs::create_dir_all(&inbox_dir).unwrap();
    let src = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix/l1"));
    for f in [
        "solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits",
        "solo_L2_stix-aux-ephemeris_20221113_V01.fits",
    ] {
        std::fs::copy(src.join(f), inbox_dir.join(f)).unwrap();
    }
    std::fs::write(inbox_dir.join("notes.txt"), "not a STIX file").unwrap();

    // Wait for the preview job to finish (an event), with a timeout.
    let finished = tokio::time::timeout(TIMEOUT * 2, async {
        loop {
            let ev = events.recv().await.expect("event bus open");
            if ev.status.is_final() {
                return ev;
            }
        }
    })
    .await
    .expect("the inbox file is previewed in time");
    assert_eq!(
        finished.status,
        jobs::kinds::JobStatus::Succeeded,
        "{finished:?}"
    );
    assert!(
        inbox_dir
            .join("processed")
            .join("solo_L2_stix-aux-ephemeris_20221113_V01.fits")
            .is_file()
    );
    assert!(inbox_dir.join("rejected").join("notes.txt").is_file());
    let reason =
        std::fs::read_to_string(inbox_dir.join("rejected").join("notes.txt.reason.txt")).unwrap();
    assert!(reason.contains("not_fits"), "{reason}");

    let db = &app.state.db;
    let flare = jobs::store::entities::flare::Entity::find()
        .one(db)
        .await
        .unwrap()
        .expect("a detected flare");
    assert_eq!(flare.source, "detected");
    assert!(flare.detector_version.is_some());
    // Its id is YYMMDDHHMM of the peak: the C1.2 flare peaks at 06:49:40 (flare list), within the 06:4x minutes.
    assert!(
        (2211130645..=2211130652).contains(&flare.flare_id),
        "{}",
        flare.flare_id
    );
    let images = image::Entity::find().all(db).await.unwrap();
    assert!(!images.is_empty());
    for i in &images {
        assert_eq!(i.background_file_id, None);
        assert_eq!(i.background_counts, 0.0);
        let bkg = &i.policy_inputs.as_ref().unwrap()["context"]["background"];
        assert_eq!(bkg["outcome"], "none", "{bkg}");
        assert!(
            bkg["reason"].as_str().unwrap().contains("no background"),
            "{bkg}"
        );
        let header = std::fs::read(app.data_dir.join(&i.fits_path)).unwrap();
        let header = String::from_utf8_lossy(&header[..2880 * 4]);
        assert!(
            header.contains("FLNM_BKG= 'none"),
            "the FITS header says no background was subtracted"
        );
    }
    // The location imaging found is stored on the flare, with its source, and the images
    // are centred on it.
    assert_eq!(flare.location_source.as_deref(), Some("stix_imaging"));
    let (x, y) = (
        flare.location_hpc_x_arcsec.expect("stored x"),
        flare.location_hpc_y_arcsec.expect("stored y"),
    );
    for i in &images {
        assert!(
            (i.center_hpc_x_arcsec - x).abs() < 5.0 && (i.center_hpc_y_arcsec - y).abs() < 5.0,
            "image centre ({}, {}) vs stored location ({x}, {y})",
            i.center_hpc_x_arcsec,
            i.center_hpc_y_arcsec
        );
    }
    let r = app
        .graphql(
            "query($f: BigInt!) { flare(flareId: $f) { location { xArcsec yArcsec } locationSource } }",
            json!({ "f": flare.flare_id }),
        )
        .await;
    assert_eq!(r["data"]["flare"]["locationSource"], "STIX_IMAGING", "{r}");
    assert_eq!(r["data"]["flare"]["location"]["xArcsec"], json!(x), "{r}");
    app.stop().await;
}

/// A reprocessed `_V02` of a science file is previewed again without touching the `_V01`
/// products: product paths are unique per image row, so every row's files still match the
/// checksums stored with it.
#[tokio::test]
async fn a_newer_version_never_overwrites_older_products() {
    let app = spawn_app().await;
    ingest_sample(&app).await;
    let db = &app.state.db;
    let before = image::Entity::find().all(db).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let v1_name =
        "solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits";
    let v2 = tmp.path().join(v1_name.replace("_V01_", "_V02_"));
    std::fs::copy(
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/stix/l1")).join(v1_name),
        &v2,
    )
    .unwrap();
    {
        let mut f = fitsio::FitsFile::edit(&v2).unwrap();
        let prim = f.primary_hdu().unwrap();
        prim.write_key(&mut f, "ORIGIN", "reprocessed V02").unwrap();
    }
    let mut bytes = std::fs::read(&v2).unwrap();
    domain::l1::checksum::reseal(&mut bytes).unwrap();
    std::fs::write(&v2, &bytes).unwrap();

    let settings = jobs::pipeline::PipelineSettings::default();
    let (report, jobs) = ingest_and_queue(&app.state, &settings, &[v2], |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(report.new_versions, 1, "{:?}", report.outcomes);
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids.len(), 1, "the new version gets its preview job");
    let done = tokio::time::timeout(TIMEOUT * 4, wait_for_jobs(&app.state, &ids))
        .await
        .expect("previews finish in time")
        .unwrap();
    assert_eq!(done[0].status, "SUCCEEDED", "{:?}", done[0].error_message);

    let v2_row = science_file::Entity::find()
        .filter(science_file::Column::Version.eq(2))
        .one(db)
        .await
        .unwrap()
        .expect("the V02 row");
    let after = image::Entity::find().all(db).await.unwrap();
    let v2_images: Vec<_> = after
        .iter()
        .filter(|i| i.science_file_id == v2_row.id)
        .collect();
    let v1_same_uid = before
        .iter()
        .filter(|i| {
            after.iter().any(|a| a.id == i.id)
                && i.fits_path.contains(&v2_row.request_uid.to_string())
        })
        .count();
    assert!(v1_same_uid > 0, "the V01 file had previews");
    assert_eq!(
        v2_images.len(),
        v1_same_uid,
        "the V02 file is previewed like the V01"
    );
    // The V01 previews of that file are superseded by the V02 ones of the same slot.
    for i in after.iter().filter(|i| {
        i.science_file_id != v2_row.id && i.fits_path.contains(&v2_row.request_uid.to_string())
    }) {
        let by = i.superseded_by_id.expect("a V01 preview is superseded");
        let successor = after.iter().find(|n| n.id == by).unwrap();
        assert_eq!(successor.science_file_id, v2_row.id);
        assert_eq!(
            (&successor.algorithm, successor.energy_low_kev),
            (&i.algorithm, i.energy_low_kev)
        );
    }
    // Every row (V01 and V02) still matches its checksums, and no path is shared.
    let mut paths = BTreeSet::new();
    for i in &after {
        let png = i.png_path.as_ref().expect("png");
        assert!(
            paths.insert(i.fits_path.clone()),
            "shared path {}",
            i.fits_path
        );
        assert!(paths.insert(png.clone()), "shared path {png}");
        assert_eq!(
            sha256(&app.data_dir.join(&i.fits_path)),
            i.fits_sha256,
            "{}",
            i.fits_path
        );
        assert_eq!(Some(sha256(&app.data_dir.join(png))), i.png_sha256, "{png}");
    }
    app.stop().await;
}
