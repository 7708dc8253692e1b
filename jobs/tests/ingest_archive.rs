//! Ingest of the real STIX files in `data/stix/l1/` and the flare list into a real database
//! (SQLite in a tempdir, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set).
//! Every expected value comes from outside our reader: the file names (UIDs, days, times),
//! `sha256sum`, the file sizes, cfitsio (headers, row counts) and the flare-list CSV text.

use jobs::ingest::{IngestStatus, Ingestor, ProductKind};
use jobs::store::entities::{flare, flare_science_file, science_file};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn stix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/stix")
}

fn l1_dir() -> PathBuf {
    stix_dir().join("l1")
}

fn flare_list() -> PathBuf {
    stix_dir().join("flare_reference_locations.csv")
}

struct Archive {
    dir: tempfile::TempDir,
    db: DatabaseConnection,
    ingestor: Ingestor,
}

impl Archive {
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }
}

async fn archive() -> Archive {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = jobs::test_support::fresh_database_url(dir.path())
        .await
        .expect("TEST_DATABASE_URL must be reachable");
    let db = jobs::store::connect(&url, 4, Duration::from_secs(20))
        .await
        .expect("connect");
    jobs::store::migrate(&db).await.expect("migrate");
    let ingestor = Ingestor::new(db.clone(), dir.path().join("store"));
    Archive { dir, db, ingestor }
}

async fn rows(db: &DatabaseConnection) -> Vec<science_file::Model> {
    science_file::Entity::find()
        .order_by_asc(science_file::Column::Id)
        .all(db)
        .await
        .expect("rows")
}

/// `sha256sum` of a file, as an independent checksum.
fn sha256sum(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_string()
}

/// Every file under `root` (relative path → bytes).
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    jobs::test_support::files_under(root)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).expect("under root").to_path_buf();
            let bytes = std::fs::read(&p).expect("read");
            (rel, bytes)
        })
        .collect()
}

/// What the file name says (A.1): kind, request UID / day, version 1.
fn expected_kind(name: &str) -> ProductKind {
    if name.contains("aux-ephemeris") {
        ProductKind::Aspect
    } else if name.contains("2211098157") || name.contains("1178082832") {
        ProductKind::Background
    } else {
        ProductKind::FlarePixelData
    }
}

fn uid_from_name(name: &str) -> i64 {
    let stem = name.trim_end_matches(".fits");
    let last = stem.rsplit('_').next().expect("a last token");
    if name.contains("aux-ephemeris") {
        // solo_L2_stix-aux-ephemeris_YYYYMMDD_V01
        stem.split('_')
            .nth(3)
            .expect("the day")
            .parse()
            .expect("digits")
    } else {
        last.split('-')
            .next()
            .expect("UID")
            .parse()
            .expect("digits")
    }
}

/// Start/end from the name `..._<YYYYmmddTHHMMSS>-<YYYYmmddTHHMMSS>_...` (CPD files).
fn name_times(name: &str) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let tok = name.split('_').nth(3).expect("the times token");
    let (a, b) = tok.split_once('-').expect("start-end");
    let p = |s: &str| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S")
            .expect("a name time")
            .and_utc()
    };
    (p(a), p(b))
}

struct FitsFacts {
    date_beg: String,
    date_end: String,
    dsun_obs: f64,
    data_rows: i64,
    /// ENERGIES `e_low` / `e_high` (CPD files only).
    energies: Option<(Vec<f64>, Vec<f64>)>,
}

/// Header facts read with cfitsio directly (not through `domain`).
fn fits_facts(path: &Path) -> FitsFacts {
    let mut f = fitsio::FitsFile::open(path).expect("fits opens");
    let prim = f.primary_hdu().expect("primary");
    let date_beg: String = prim.read_key(&mut f, "DATE-BEG").expect("DATE-BEG");
    let date_end: String = prim.read_key(&mut f, "DATE-END").expect("DATE-END");
    let dsun_obs: f64 = prim.read_key(&mut f, "DSUN_OBS").expect("DSUN_OBS");
    let data = f.hdu("DATA").expect("DATA");
    let data_rows: i64 = data.read_key(&mut f, "NAXIS2").expect("NAXIS2");
    let energies = f.hdu("ENERGIES").ok().map(|e| {
        let lo: Vec<f64> = e.read_col(&mut f, "e_low").expect("e_low");
        let hi: Vec<f64> = e.read_col(&mut f, "e_high").expect("e_high");
        (lo, hi)
    });
    FitsFacts {
        energies,
        date_beg,
        date_end,
        dsun_obs,
        data_rows,
    }
}

fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
    domain::time_range::parse_utc(text).expect("a UTC time")
}

fn l1_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(l1_dir())
        .expect("l1 dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn real_files_are_classified_checksummed_and_stored() {
    let a = archive().await;
    let mut progress = Vec::new();
    let report = a
        .ingestor
        .ingest_paths(&[l1_dir()], |o, done, total| {
            progress.push((o.path.clone(), done, total))
        })
        .await;
    assert_eq!(report.outcomes.len(), 11);
    assert_eq!((report.new, report.rejected), (11, 0), "{report:#?}");
    assert_eq!(progress.len(), 11);
    assert!(
        progress
            .iter()
            .enumerate()
            .all(|(i, (_, d, t))| *d == i + 1 && *t == 11)
    );

    // Order: the 4 aspect files, then the 2 background files, then the 5 flare files.
    let kinds: Vec<ProductKind> = report
        .outcomes
        .iter()
        .map(|o| o.result.as_ref().expect("accepted").kind)
        .collect();
    let mut sorted = kinds.clone();
    sorted.sort_by_key(|k| match k {
        ProductKind::Aspect => 0,
        ProductKind::Background => 1,
        _ => 2,
    });
    assert_eq!(kinds, sorted);

    let rows = rows(&a.db).await;
    assert_eq!(rows.len(), 11);
    for path in l1_files() {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let row = rows
            .iter()
            .find(|r| r.file_name == name)
            .unwrap_or_else(|| panic!("{name} has a row"));
        let kind = expected_kind(&name);
        let outcome = report
            .outcomes
            .iter()
            .find(|o| o.path == path)
            .expect("an outcome");
        let ing = outcome.result.as_ref().expect("accepted");
        assert_eq!(ing.kind, kind, "{name}");
        assert_eq!(ing.science_file_id, Some(row.id));
        assert_eq!(ing.status, IngestStatus::New);
        assert_eq!(row.product_kind, kind.as_str(), "{name}");
        assert_eq!(row.request_uid, uid_from_name(&name), "{name}");
        assert_eq!(row.version, 1);
        assert!(row.is_latest);
        assert_eq!(row.sha256, sha256sum(&path), "{name}");
        let size = std::fs::metadata(&path).expect("meta").len();
        assert_eq!(row.size_bytes as u64, size, "{name}");
        let facts = fits_facts(&path);
        let start = utc(&facts.date_beg);
        let year_month = format!("{}", start.format("%Y/%m"));
        assert_eq!(
            row.stored_path,
            format!("files/{}/{year_month}/{name}", kind.as_str())
        );
        let stored = a.data_dir().join(&row.stored_path);
        assert_eq!(
            std::fs::read(&stored).expect("stored copy"),
            std::fs::read(&path).expect("original"),
            "{name}: the stored copy is byte-identical"
        );
        let header = row.header.as_ref().expect("header json");
        assert_eq!(header["DATE-BEG"], serde_json::json!(facts.date_beg));
        // serde_json's default float parser may be 1 ulp off after the JSON round trip.
        let dsun = header["DSUN_OBS"].as_f64().expect("DSUN_OBS");
        assert!((dsun / facts.dsun_obs - 1.0).abs() < 1e-15, "{dsun}");
        match kind {
            ProductKind::Aspect => {
                let day =
                    chrono::NaiveDate::parse_from_str(&uid_from_name(&name).to_string(), "%Y%m%d")
                        .expect("day")
                        .and_hms_opt(0, 0, 0)
                        .expect("midnight")
                        .and_utc();
                assert_eq!(row.obs_start, day);
                assert_eq!(row.obs_end, day + chrono::Duration::days(1));
                assert_eq!(row.n_time_bins, 0);
                assert!(row.energy_groups_kev.is_none() && row.pixel_mask.is_none());
            }
            _ => {
                // Bins span DATE-BEG..DATE-END of the header (within rounding of the
                // centisecond bin times).
                let end = utc(&facts.date_end);
                assert!(
                    (row.obs_start - start).num_milliseconds().abs() <= 1000,
                    "{name}"
                );
                assert!(
                    (row.obs_end - end).num_milliseconds().abs() <= 1000,
                    "{name}"
                );
                let (ns, ne) = name_times(&name);
                assert!((row.obs_start - ns).num_seconds().abs() <= 1, "{name}");
                assert!((row.obs_end - ne).num_seconds().abs() <= 1, "{name}");
                assert_eq!(i64::from(row.n_time_bins), facts.data_rows, "{name}");
                let groups = row
                    .energy_groups_kev
                    .as_ref()
                    .and_then(|g| g.as_array().cloned())
                    .expect("energy groups");
                let (e_low, e_high) = facts.energies.as_ref().expect("ENERGIES");
                assert_eq!(groups.len(), e_low.len(), "{name}");
                for (g, (l, h)) in groups.iter().zip(e_low.iter().zip(e_high)) {
                    assert_eq!(g[0].as_f64(), Some(*l));
                    assert_eq!(g[1].as_f64(), h.is_finite().then_some(*h), "{name}");
                }
                let lo = row.energy_low_kev.expect("low");
                let hi = row.energy_high_kev.expect("high");
                assert_eq!(lo, e_low[0]);
                let top = e_high
                    .iter()
                    .chain(e_low)
                    .copied()
                    .filter(|x| x.is_finite())
                    .fold(f64::MIN, f64::max);
                assert_eq!(hi, top, "{name}");
                // None of these requests had the attenuator in (all rcr = 0).
                assert_eq!(row.attenuator_in, Some(false), "{name}");
                if kind == ProductKind::Background {
                    // A.1: one long bin, all 32 detectors and 12 pixels.
                    assert_eq!(row.n_time_bins, 1);
                    assert_eq!(row.pixel_mask, Some(0xFFF));
                    assert_eq!(row.detector_mask, Some(0xFFFF_FFFF));
                    if name.contains("2211098157") {
                        // The 2022 background request: 31 groups, 4–150 keV, open top.
                        assert_eq!((groups.len(), lo, hi), (31, 4.0, 150.0));
                        assert_eq!(groups[30][1], serde_json::Value::Null);
                    }
                } else {
                    assert!(row.n_time_bins > 1, "{name}");
                }
            }
        }
    }
    // No temporary files left behind.
    assert!(
        tree(&a.data_dir())
            .keys()
            .all(|p| !p.to_string_lossy().contains(".part"))
    );
}

#[tokio::test]
async fn ingesting_twice_changes_nothing() {
    let a = archive().await;
    let first = a.ingestor.ingest_paths(&[l1_dir()], |_, _, _| {}).await;
    assert_eq!(first.new, 11);
    let rows_before = rows(&a.db).await;
    let files_before = tree(&a.data_dir());
    assert_eq!(files_before.len(), 11);

    let second = a.ingestor.ingest_paths(&[l1_dir()], |_, _, _| {}).await;
    assert_eq!(second.already_present, 11, "{second:#?}");
    assert_eq!(
        (second.new, second.new_versions, second.rejected),
        (0, 0, 0)
    );
    for o in &second.outcomes {
        let ing = o.result.as_ref().expect("accepted");
        let row = rows_before
            .iter()
            .find(|r| Some(r.id) == ing.science_file_id)
            .expect("the existing row");
        assert_eq!(row.sha256, sha256sum(&o.path));
    }
    // Also one file on its own.
    let single = a.ingestor.ingest_file(&l1_files()[2]).await;
    assert_eq!(
        single.result.as_ref().map(|i| i.status),
        Ok(IngestStatus::AlreadyPresent)
    );
    assert_eq!(rows(&a.db).await, rows_before);
    assert_eq!(tree(&a.data_dir()), files_before);
}

/// A copy of a real file under another version, with one header keyword changed (so the
/// bytes and the checksum differ).
fn versioned_copy(dir: &Path, version_token: &str, note: &str) -> PathBuf {
    let src = l1_dir().join(
        "solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits",
    );
    let name = format!(
        "solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_{version_token}_2211134748-54764.fits"
    );
    let dst = dir.join(name);
    std::fs::copy(&src, &dst).expect("copy");
    let mut f = fitsio::FitsFile::edit(&dst).expect("edit");
    let prim = f.primary_hdu().expect("primary");
    prim.write_key(
        &mut f,
        "ORIGIN",
        format!("reprocessed {version_token} {note}").as_str(),
    )
    .expect("write key");
    drop(f);
    // A reprocessed file carries correct checksums for its new content (ingest verifies them).
    let mut bytes = std::fs::read(&dst).expect("read");
    domain::l1::checksum::reseal(&mut bytes).expect("reseal");
    std::fs::write(&dst, &bytes).expect("write");
    assert_ne!(sha256sum(&src), sha256sum(&dst));
    dst
}

#[tokio::test]
async fn newer_versions_supersede_and_older_ones_do_not() {
    let a = archive().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let v1 = l1_dir().join(
        "solo_L1_stix-sci-xray-cpd_20221113T064525-20221113T065617_V01_2211134748-54764.fits",
    );
    let v2 = versioned_copy(tmp.path(), "V02", "a");
    let v3u = versioned_copy(tmp.path(), "V03U", "a");

    let o1 = a.ingestor.ingest_file(&v1).await.result.expect("v1");
    assert_eq!(o1.status, IngestStatus::New);
    let id1 = o1.science_file_id.expect("id");

    let o2 = a.ingestor.ingest_file(&v2).await.result.expect("v2");
    assert_eq!(o2.status, IngestStatus::NewVersion { supersedes: id1 });
    let id2 = o2.science_file_id.expect("id");
    let rows_now = rows(&a.db).await;
    let r1 = rows_now.iter().find(|r| r.id == id1).expect("v1 row");
    let r2 = rows_now.iter().find(|r| r.id == id2).expect("v2 row");
    assert!(!r1.is_latest && r2.is_latest);
    assert_eq!((r1.version, r2.version), (1, 2));
    assert_eq!(r2.request_uid, 2211134748);
    assert_eq!(r2.sha256, sha256sum(&v2));
    assert_ne!(r1.stored_path, r2.stored_path);
    assert_eq!(
        std::fs::read(a.data_dir().join(&r1.stored_path)).expect("v1 copy"),
        std::fs::read(&v1).expect("v1")
    );

    // Re-ingesting v2 is a no-op; v3U supersedes v2.
    let again = a.ingestor.ingest_file(&v2).await.result.expect("v2 again");
    assert_eq!(again.status, IngestStatus::AlreadyPresent);
    let o3 = a.ingestor.ingest_file(&v3u).await.result.expect("v3U");
    assert_eq!(o3.status, IngestStatus::NewVersion { supersedes: id2 });
    // Same version, other bytes (in another directory, same name): kept, not latest.
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let v3u_other = versioned_copy(tmp2.path(), "V03U", "b");
    let o4 = a
        .ingestor
        .ingest_file(&v3u_other)
        .await
        .result
        .expect("v3U b");
    assert_eq!(o4.status, IngestStatus::New);
    let r4 = rows(&a.db).await;
    let r4 = r4
        .iter()
        .find(|r| Some(r.id) == o4.science_file_id)
        .expect("row");
    assert!(!r4.is_latest);
    assert_eq!(r4.sha256, sha256sum(&v3u_other));
    // Same file name, other bytes: stored beside the first copy, under a hash-suffixed name.
    assert!(
        r4.stored_path
            .ends_with(&format!("2211134748-54764.{}.fits", &r4.sha256[..16]))
    );
    assert_eq!(
        std::fs::read(a.data_dir().join(&r4.stored_path)).expect("copy"),
        std::fs::read(&v3u_other).expect("source")
    );
    let latest: Vec<i32> = rows(&a.db)
        .await
        .iter()
        .filter(|r| r.is_latest)
        .map(|r| r.version)
        .collect();
    assert_eq!(latest, vec![3]);

    // The other order: an older version after a newer one is stored, not latest.
    let b = archive().await;
    let n2 = b.ingestor.ingest_file(&v2).await.result.expect("v2");
    assert_eq!(n2.status, IngestStatus::New);
    let n1 = b.ingestor.ingest_file(&v1).await.result.expect("v1");
    assert_eq!(n1.status, IngestStatus::New);
    let rb = rows(&b.db).await;
    let latest: Vec<(i32, bool)> = rb.iter().map(|r| (r.version, r.is_latest)).collect();
    assert_eq!(latest, vec![(2, true), (1, false)]);
}

#[tokio::test]
async fn bad_files_are_rejected_with_reasons_and_the_rest_goes_in() {
    let a = archive().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = l1_files();
    let truncated = tmp.path().join(
        "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits",
    );
    let bytes = std::fs::read(&good[4]).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).expect("write");
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "just some notes\n").expect("write");
    let fake_fits = tmp.path().join("fake.fits");
    std::fs::write(&fake_fits, "not a FITS file at all\n").expect("write");
    let other_csv = tmp.path().join("other.csv");
    std::fs::write(&other_csv, "a,b,c\n1,2,3\n").expect("write");
    let legacy = stix_dir().join("l1-legacy");

    let mut inputs = vec![
        legacy.clone(),
        truncated.clone(),
        text.clone(),
        fake_fits.clone(),
        other_csv.clone(),
    ];
    inputs.extend(good.iter().take(3).cloned());
    let report = a.ingestor.ingest_paths(&inputs, |_, _, _| {}).await;
    assert_eq!(report.outcomes.len(), 9, "{report:#?}");
    assert_eq!((report.new, report.rejected), (3, 6), "{report:#?}");
    let code_of = |p: &Path| {
        let o = report
            .outcomes
            .iter()
            .find(|o| o.path == p)
            .unwrap_or_else(|| panic!("{} has an outcome", p.display()));
        let r = o.result.as_ref().expect_err("rejected");
        assert!(!r.reason.trim().is_empty());
        (r.code, r.reason.clone())
    };
    let (code, reason) = code_of(&truncated);
    assert_eq!(code, "truncated", "{reason}");
    assert!(reason.contains("truncated"), "{reason}");
    assert_eq!(code_of(&text).0, "not_fits");
    assert_eq!(code_of(&fake_fits).0, "not_fits");
    assert_eq!(code_of(&other_csv).0, "not_flare_list");
    for entry in std::fs::read_dir(&legacy).expect("legacy dir").flatten() {
        let (code, reason) = code_of(&entry.path());
        assert!(
            ["legacy_layout", "wrong_product"].contains(&code),
            "{}: {code} {reason}",
            entry.path().display()
        );
    }
    let (code, reason) = code_of(&legacy.join(
        "solo_L1_stix-sci-xray-cpd_20200505T235959-20200506T000019_V01_0087031809-50883.fits",
    ));
    assert_eq!(code, "legacy_layout", "{reason}");
    assert!(reason.contains("legacy"), "{reason}");

    // Only the three good files are in the archive, rows and copies.
    let r = rows(&a.db).await;
    assert_eq!(r.len(), 3);
    let stored = tree(&a.data_dir());
    assert_eq!(stored.len(), 3);
    for g in good.iter().take(3) {
        let name = g.file_name().expect("name").to_string_lossy().to_string();
        assert!(
            r.iter()
                .any(|row| row.file_name == name && row.sha256 == sha256sum(g))
        );
    }
}

/// The flare list read independently (plain split of the CSV text):
/// flare_id → (start, end, hpc x/y when given, goes class).
struct CsvFlare {
    id: i64,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    hpc: Option<(f64, f64)>,
    goes: String,
}

fn csv_flares() -> Vec<CsvFlare> {
    let text = std::fs::read_to_string(flare_list()).expect("flare list");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect("column");
    let (id, s, e, x, y, g) = (
        col("flare_id"),
        col("start_UTC"),
        col("end_UTC"),
        col("hpc_x_solo"),
        col("hpc_y_solo"),
        col("GOES_class_time_of_flare"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            CsvFlare {
                id: f[id].parse().expect("id"),
                start: utc(f[s]),
                end: utc(f[e]),
                hpc: (!f[x].is_empty())
                    .then(|| (f[x].parse().expect("x"), f[y].parse().expect("y"))),
                goes: f[g].to_string(),
            }
        })
        .collect()
}

/// (flare_id, file name) pairs whose times overlap, from the CSV and the CPD file names.
fn expected_links() -> BTreeSet<(i64, String)> {
    let mut out = BTreeSet::new();
    for f in csv_flares() {
        for p in l1_files() {
            let name = p.file_name().expect("name").to_string_lossy().to_string();
            if expected_kind(&name) != ProductKind::FlarePixelData {
                continue;
            }
            let (s, e) = name_times(&name);
            if s < f.end && f.start < e {
                out.insert((f.id, name));
            }
        }
    }
    out
}

async fn links(db: &DatabaseConnection) -> BTreeSet<(i64, String)> {
    let flares = flare::Entity::find().all(db).await.expect("flares");
    let files = rows(db).await;
    flare_science_file::Entity::find()
        .all(db)
        .await
        .expect("links")
        .into_iter()
        .map(|l| {
            let f = flares.iter().find(|f| f.id == l.flare_id).expect("flare");
            let s = files
                .iter()
                .find(|s| s.id == l.science_file_id)
                .expect("file");
            (f.flare_id, s.file_name.clone())
        })
        .collect()
}

async fn check_flares(db: &DatabaseConnection) {
    let csv = csv_flares();
    let rows = flare::Entity::find()
        .order_by_asc(flare::Column::FlareId)
        .all(db)
        .await
        .expect("flares");
    assert_eq!(rows.len(), 6);
    assert_eq!(csv.len(), 6);
    for c in &csv {
        let r = rows.iter().find(|r| r.flare_id == c.id).expect("the flare");
        assert_eq!((r.start_time, r.end_time), (c.start, c.end));
        assert_eq!(r.source, "flare_list");
        assert_eq!(r.goes_class.as_deref(), Some(c.goes.as_str()));
        assert_eq!(r.attenuator_in, Some(false));
        match c.hpc {
            Some((x, y)) => {
                assert_eq!(r.location_hpc_x_arcsec, Some(x));
                assert_eq!(r.location_hpc_y_arcsec, Some(y));
                assert_eq!(r.location_source.as_deref(), Some("flare_list"));
            }
            None => assert!(r.location_hpc_x_arcsec.is_none() && r.location_source.is_none()),
        }
    }
    let m12 = rows
        .iter()
        .find(|r| r.flare_id == 2211111136)
        .expect("the M1.2 flare");
    assert_eq!(m12.goes_class.as_deref(), Some("M1.2"));
    assert_eq!(m12.location_hpc_x_arcsec, Some(824.768616));
    assert_eq!(m12.location_hpc_y_arcsec, Some(144.524323));
    // QL peak counts of the M1.2 line: 4-10 keV column of the CSV.
    let line = std::fs::read_to_string(flare_list())
        .expect("flare list")
        .lines()
        .find(|l| l.contains(",2211111136,"))
        .map(str::to_string)
        .expect("the M1.2 line");
    let ql_4_10: f64 = line
        .split(',')
        .nth(5)
        .expect("column")
        .parse()
        .expect("number");
    assert_eq!(m12.peak_counts4_to10_kev, Some(ql_4_10));
}

#[tokio::test]
async fn flare_list_imports_and_links_in_both_orders() {
    let want = expected_links();
    assert!(
        want.contains(&(
            2211111136,
            "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits"
                .to_string()
        ))
    );
    assert_eq!(want.len(), 4, "{want:?}");

    // Files first, then the list (the list is processed last even when named first).
    let a = archive().await;
    let report = a
        .ingestor
        .ingest_paths(&[flare_list(), l1_dir()], |_, _, _| {})
        .await;
    assert_eq!(report.rejected, 0, "{report:#?}");
    let last = report.outcomes.last().expect("outcomes");
    assert_eq!(last.path, flare_list());
    let ing = last.result.as_ref().expect("the list is accepted");
    assert_eq!(ing.kind, ProductKind::FlareList);
    assert_eq!((ing.status, ing.flares_imported), (IngestStatus::New, 6));
    assert_eq!(ing.science_file_id, None);
    check_flares(&a.db).await;
    assert_eq!(links(&a.db).await, want);

    // Re-importing the list changes nothing.
    let flares_before = flare::Entity::find().all(&a.db).await.expect("flares");
    let again = a
        .ingestor
        .ingest_file(&flare_list())
        .await
        .result
        .expect("again");
    assert_eq!(
        (again.status, again.flares_imported),
        (IngestStatus::AlreadyPresent, 0)
    );
    assert_eq!(
        flare::Entity::find().all(&a.db).await.expect("flares"),
        flares_before
    );
    assert_eq!(links(&a.db).await, want);

    // The list first, then the files.
    let b = archive().await;
    let list = b
        .ingestor
        .ingest_file(&flare_list())
        .await
        .result
        .expect("list");
    assert_eq!(list.flares_imported, 6);
    assert!(links(&b.db).await.is_empty());
    let files = b.ingestor.ingest_paths(&[l1_dir()], |_, _, _| {}).await;
    assert_eq!(files.new, 11);
    check_flares(&b.db).await;
    assert_eq!(links(&b.db).await, want);
}

/// A job reads only the aspect and background files it could use, not every one of a mission's
/// archive, and this choice never changes what it picks: on the real files, the aspect files
/// over the M1.2 flare's file are those of its day and the next (the day's margin), and the
/// background chosen from the nearby files equals the one chosen from all of them, for search
/// windows either side of the two 9 November backgrounds (1.95 and 2.04 days away).
#[tokio::test]
async fn jobs_read_only_the_aspect_and_background_files_near_them() {
    use domain::policy::background::{BackgroundCandidate, choose_background};
    use domain::time_range::TimeRange;
    use jobs::pipeline::inputs::{aspect_files, background_files_near};
    let a = archive().await;
    let report = a.ingestor.ingest_paths(&[l1_dir()], |_, _, _| {}).await;
    assert_eq!(report.rejected, 0, "{:?}", report.outcomes);

    let all_aspects = aspect_files(&a.db, None).await.unwrap();
    assert_eq!(all_aspects.len(), 4, "the four ephemeris files");
    // The M1.2 flare file: 2022-11-11 11:11:02 to 12:12:12 (its name).
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let m12 = TimeRange::new(at("2022-11-11T11:11:02Z"), at("2022-11-11T12:12:12Z")).unwrap();
    let days: BTreeSet<String> = aspect_files(&a.db, Some(&m12))
        .await
        .unwrap()
        .iter()
        .map(|r| r.file_name.split('_').nth(3).unwrap().to_string())
        .collect();
    assert_eq!(
        days,
        BTreeSet::from(["20221111".to_string(), "20221112".to_string()]),
        "the flare's day and the next (within a day of the file), not the 9th or the 13th"
    );

    let candidates = |rows: &[science_file::Model]| -> Vec<BackgroundCandidate> {
        rows.iter()
            .map(|r| BackgroundCandidate {
                id: r.id.to_string(),
                range: TimeRange::new(r.obs_start, r.obs_end).unwrap(),
            })
            .collect()
    };
    let every_background: Vec<science_file::Model> = rows(&a.db)
        .await
        .into_iter()
        .filter(|r| r.product_kind == ProductKind::Background.as_str() && r.is_latest)
        .collect();
    assert_eq!(every_background.len(), 2, "the two 9 November backgrounds");
    let mut chosen = 0;
    for max_days in [0.0, 1.0, 1.9, 2.0, 2.1, 3.0, 400.0] {
        let near = background_files_near(&a.db, &m12, max_days).await.unwrap();
        assert_eq!(
            choose_background(&m12, &candidates(&near), max_days),
            choose_background(&m12, &candidates(&every_background), max_days),
            "±{max_days} days"
        );
        chosen += usize::from(
            choose_background(&m12, &candidates(&near), max_days)
                .id()
                .is_some(),
        );
        if max_days < 1.9 {
            assert!(near.is_empty(), "±{max_days} days reads no background");
        }
    }
    assert!(
        chosen >= 4,
        "the windows that reach a background choose one"
    );
}
