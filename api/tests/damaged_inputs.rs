//! Issue #11: a corpus of damaged copies of a real L1 file, generated here, fed to
//! `stix-archive ingest --json` and to `stix-archive image --l1`: no file is accepted, nothing
//! panics, each is refused with its stable reason code, and the store stays empty.
//!
//! Damage that a stale checksum would already reveal is made twice where it matters: once
//! with the checksums left stale (`checksum_mismatch`), and once "resealed" (DATASUM and
//! CHECKSUM recomputed with `domain::l1::checksum::reseal`, as a broken upstream pipeline
//! would write them) so that the plausibility rule behind it is what refuses the file.

use domain::l1::checksum::{HduSpan, hdu_spans, reseal};
use std::path::{Path, PathBuf};
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

fn data(rel: &str) -> PathBuf {
    PathBuf::from(format!("{}/../data/stix/{rel}", env!("CARGO_MANIFEST_DIR")))
}

const M12: &str =
    "l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits";
const BKG: &str =
    "l1/solo_L1_stix-sci-xray-cpd_20221109T121730-20221109T131050_V01_2211098157-52648.fits";

fn span<'a>(spans: &'a [HduSpan], name: &str) -> &'a HduSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no HDU {name}"))
}

/// Byte offset of the header card `key` of an HDU.
fn card_at(bytes: &[u8], s: &HduSpan, key: &str) -> usize {
    (s.header_start..s.data_start)
        .step_by(80)
        .find(|&at| {
            let k = String::from_utf8_lossy(&bytes[at..at + 8]);
            k.trim_end() == key
        })
        .unwrap_or_else(|| panic!("no card {key} in {}", s.name))
}

fn card_value(bytes: &[u8], s: &HduSpan, key: &str) -> String {
    let at = card_at(bytes, s, key);
    let text = String::from_utf8_lossy(&bytes[at + 10..at + 80]).to_string();
    let t = text.trim_start();
    if let Some(rest) = t.strip_prefix('\'') {
        rest[..rest.find('\'').unwrap()].trim().to_string()
    } else {
        t.split('/').next().unwrap().trim().to_string()
    }
}

/// Replaces the card `key` with `KEY     = value` (value as written, e.g. `'text'` or `9`).
fn set_card(bytes: &mut [u8], hdu: &str, key: &str, value: &str) {
    let spans = hdu_spans(bytes).unwrap();
    let at = card_at(bytes, span(&spans, hdu), key);
    let card = format!("{key:<8}= {value:>20}");
    let card = format!("{card:<80}");
    bytes[at..at + 80].copy_from_slice(card.as_bytes());
}

/// A binary-table column: byte offset in the row, element width and count.
struct Column {
    offset: usize,
    width: usize,
    repeat: usize,
}

/// Row width, row count and the named column of a binary table.
fn column(bytes: &[u8], hdu: &str, name: &str) -> (usize, usize, Column) {
    let spans = hdu_spans(bytes).unwrap();
    let s = span(&spans, hdu);
    let row_width: usize = card_value(bytes, s, "NAXIS1").parse().unwrap();
    let rows: usize = card_value(bytes, s, "NAXIS2").parse().unwrap();
    let n: usize = card_value(bytes, s, "TFIELDS").parse().unwrap();
    let mut offset = 0;
    for k in 1..=n {
        let ttype = card_value(bytes, s, &format!("TTYPE{k}"));
        let tform = card_value(bytes, s, &format!("TFORM{k}"));
        let split = tform.find(|c: char| c.is_ascii_alphabetic()).unwrap();
        let repeat: usize = if split == 0 {
            1
        } else {
            tform[..split].parse().unwrap()
        };
        let width = match &tform[split..split + 1] {
            "L" | "B" | "A" => 1,
            "I" => 2,
            "J" | "E" => 4,
            "K" | "D" => 8,
            other => panic!("TFORM {other}"),
        };
        if ttype == name {
            return (
                row_width,
                rows,
                Column {
                    offset,
                    width,
                    repeat,
                },
            );
        }
        offset += width * repeat;
    }
    panic!("no column {name} in {hdu}");
}

/// Overwrites element `element` of column `name` in `row` of table `hdu` with `value`
/// (big-endian bytes of the element width).
fn set_cell(bytes: &mut [u8], hdu: &str, name: &str, row: usize, element: usize, value: &[u8]) {
    let (row_width, rows, c) = column(bytes, hdu, name);
    assert!(row < rows && element < c.repeat && value.len() == c.width);
    let spans = hdu_spans(bytes).unwrap();
    let at = span(&spans, hdu).data_start + row * row_width + c.offset + element * c.width;
    bytes[at..at + c.width].copy_from_slice(value);
}

/// One damaged file: name, bytes, and the code it must be refused with.
struct Damaged {
    name: &'static str,
    bytes: Vec<u8>,
    code: &'static str,
}

fn corpus() -> Vec<Damaged> {
    let good = std::fs::read(data(M12)).unwrap();
    let spans = hdu_spans(&good).unwrap();
    let mut out = Vec::new();
    let mut add = |name, bytes, code| out.push(Damaged { name, bytes, code });

    // Bit flips with the checksums left stale.
    for (name, hdu) in [
        ("flip_control", "CONTROL"),
        ("flip_data", "DATA"),
        ("flip_energies", "ENERGIES"),
    ] {
        let mut b = good.clone();
        b[span(&spans, hdu).data_start + 17] ^= 0x10;
        add(name, b, "checksum_mismatch");
    }
    let mut b = good.clone();
    set_card(&mut b, "PRIMARY", "DATE-BEG", "'1900-01-01T00:00:00.000'");
    add("date_1900_stale", b, "checksum_mismatch");

    // Not FITS.
    let mut b = good.clone();
    b[29] = b'F';
    add("simple_f", b, "not_fits");
    add("text", b"just some text, not FITS\n".to_vec(), "not_fits");

    // Truncated: in the middle of a block, and on a block boundary inside DATA.
    add("half", good[..good.len() / 2].to_vec(), "truncated");
    let d = span(&spans, "DATA");
    let cut = d.data_start + (d.data_len_padded / 2880 / 2) * 2880;
    add("cut_in_data", good[..cut].to_vec(), "truncated");

    // Resealed header and table damage: the plausibility rules refuse them.
    let sealed = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        edit(&mut b);
        reseal(&mut b).unwrap();
        b
    };
    add(
        "date_1900",
        sealed(&|b| set_card(b, "PRIMARY", "DATE-BEG", "'1900-01-01T00:00:00.000'")),
        "implausible_time",
    );
    add(
        "date_2099",
        sealed(&|b| {
            set_card(b, "PRIMARY", "DATE-BEG", "'2099-11-11T11:11:02.871'");
            set_card(b, "PRIMARY", "DATE-END", "'2099-11-11T12:12:12.377'");
        }),
        "implausible_time",
    );
    // A damaged DATA header: the TZERO of `time` moved by 2·10⁹ cs (eight months).
    add(
        "time_tzero",
        sealed(&|b| {
            let spans = hdu_spans(b).unwrap();
            let s = span(&spans, "DATA");
            let n: usize = card_value(b, s, "TFIELDS").parse().unwrap();
            let k = (1..=n)
                .find(|k| card_value(b, s, &format!("TTYPE{k}")) == "time")
                .unwrap();
            set_card(b, "DATA", &format!("TZERO{k}"), "4147483648");
        }),
        "bad_time_axis",
    );
    add(
        "rcr_9",
        sealed(&|b| set_cell(b, "DATA", "rcr", 3, 0, &[9])),
        "bad_rcr",
    );
    add(
        "zero_masks",
        sealed(&|b| {
            for p in 0..12 {
                set_cell(b, "DATA", "pixel_masks", 2, p, &[0]);
            }
        }),
        "empty_masks",
    );
    add(
        "control_index_7",
        sealed(&|b| {
            let (_, _, c) = column(b, "DATA", "control_index");
            let v = vec![0u8; c.width - 1]
                .into_iter()
                .chain([7u8])
                .collect::<Vec<_>>();
            set_cell(b, "DATA", "control_index", 1, 0, &v);
        }),
        "inconsistent_control",
    );
    add(
        "energies_nan",
        sealed(&|b| set_cell(b, "ENERGIES", "e_low", 3, 0, &f32::NAN.to_be_bytes())),
        "bad_energy_table",
    );
    add(
        "energies_reversed",
        sealed(&|b| set_cell(b, "ENERGIES", "e_low", 5, 0, &2.0f32.to_be_bytes())),
        "bad_energy_table",
    );
    add(
        "ssid_24",
        sealed(&|b| set_card(b, "PRIMARY", "SSID", "24")),
        "wrong_product",
    );
    add(
        "nan_errors_everywhere",
        sealed(&|b| {
            let (_, rows, c) = column(b, "DATA", "counts_comp_err");
            for r in 0..rows {
                set_cell(
                    b,
                    "DATA",
                    "counts_comp_err",
                    r,
                    c.repeat / 2,
                    &f32::NAN.to_be_bytes(),
                );
            }
        }),
        "no_usable_bins",
    );
    out
}

fn write_corpus(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    corpus()
        .into_iter()
        .map(|d| {
            let p = dir.join(format!("{}.fits", d.name));
            std::fs::write(&p, &d.bytes).unwrap();
            (p, d.code)
        })
        .collect()
}

#[test]
fn every_damaged_file_is_refused_by_ingest_with_its_reason_and_nothing_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("corpus");
    std::fs::create_dir(&inbox).unwrap();
    let files = write_corpus(&inbox);
    assert!(files.len() >= 18);
    let store = tmp.path().join("store");
    let db = tmp.path().join("archive.sqlite");
    let out = bin()
        .current_dir(tmp.path())
        .args(["ingest", "--json", inbox.to_str().unwrap()])
        .env("STIX__DATABASE__URL", format!("sqlite://{}", db.display()))
        .env("STIX__STORAGE__DATA_DIR", &store)
        .env("STIX__WORKERS__CONCURRENCY", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("--json gives one JSON document ({e}): {stdout}");
    });
    assert_eq!(report["rejected"], files.len(), "{report:#}");
    assert_eq!(report["new"], 0);
    assert_eq!(report["preview_jobs"], 0);
    for (path, code) in &files {
        let entry = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str() == path.to_str())
            .unwrap_or_else(|| panic!("{} missing from the report", path.display()));
        assert_eq!(entry["accepted"], false, "{entry}");
        assert_eq!(entry["code"], *code, "{}: {entry}", path.display());
        assert!(!entry["reason"].as_str().unwrap().is_empty());
    }
    // Nothing rejected leaves a file in the store …
    let stored: Vec<PathBuf> = walk(&store);
    assert!(stored.is_empty(), "files left in the store: {stored:?}");
    // … or a row in the archive.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows = rt.block_on(async {
        use sea_orm::{EntityTrait, PaginatorTrait};
        let db = jobs::store::connect(
            &format!("sqlite://{}", db.display()),
            1,
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
        jobs::store::entities::science_file::Entity::find()
            .count(&db)
            .await
            .unwrap()
    });
    assert_eq!(rows, 0);

    // Without --json: one line per rejected file with its code and reason.
    let out = bin()
        .current_dir(tmp.path())
        .args(["ingest", inbox.to_str().unwrap()])
        .env("STIX__DATABASE__URL", format!("sqlite://{}", db.display()))
        .env("STIX__STORAGE__DATA_DIR", &store)
        .env("STIX__WORKERS__CONCURRENCY", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (path, code) in &files {
        let line = stdout
            .lines()
            .find(|l| l.contains(path.to_str().unwrap()))
            .unwrap_or_else(|| panic!("no line for {}: {stdout}", path.display()));
        assert!(
            line.starts_with("rejected") && line.contains(code),
            "{line}"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_damaged_file_is_refused_by_image_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = write_corpus(tmp.path());
    files.push((data(BKG), "wrong_product"));
    for (path, code) in &files {
        let fits = tmp.path().join("out.fits");
        let out = bin()
            .args([
                "image",
                "--l1",
                path.to_str().unwrap(),
                "--time",
                "2022-11-11T11:36:40/2022-11-11T11:37:40",
                "--energy",
                "4-10",
                "--algorithm",
                "bp",
                "--out",
                fits.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        let expected_status = if *code == "wrong_product" { 2 } else { 1 };
        assert_eq!(
            out.status.code(),
            Some(expected_status),
            "{}: {stderr}",
            path.display()
        );
        assert!(
            stderr.contains(&format!("[{code}]")),
            "{}: {stderr}",
            path.display()
        );
        assert!(!fits.exists(), "no image for {}", path.display());
    }
    // The background file says what it is.
    let out = bin()
        .args([
            "image",
            "--l1",
            data(BKG).to_str().unwrap(),
            "--time",
            "2022-11-09T12:20:00/2022-11-09T12:30:00",
            "--energy",
            "4-10",
            "--algorithm",
            "bp",
            "--out",
            tmp.path().join("bkg.fits").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("background"), "{stderr}");
}
