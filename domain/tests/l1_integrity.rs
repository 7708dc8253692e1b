//! Issue #11 in the L1 reader: a time bin whose count errors are NaN or negative is left out
//! and the exclusion recorded, the rest of the file stays usable; the plausibility rules give
//! their stable codes (the full damaged-file corpus runs through the binary in
//! `api/tests/damaged_inputs.rs`).

use domain::l1::checksum::{HduSpan, hdu_spans, reseal};
use domain::l1::{L1Error, PixelData, RejectCode};
use std::path::PathBuf;

fn m12() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/stix/l1/solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits"
    ))
}

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

fn read_edited(edit: impl Fn(&mut Vec<u8>)) -> Result<PixelData, L1Error> {
    let mut b = std::fs::read(m12()).unwrap();
    edit(&mut b);
    reseal(&mut b).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("edited.fits");
    std::fs::write(&p, &b).unwrap();
    PixelData::read(&p)
}

#[test]
fn nan_or_negative_errors_exclude_their_bins_only() {
    let good = PixelData::read(&m12()).unwrap();
    assert!(good.excluded_bins.is_empty());
    assert!(good.earth_time_delta_seconds.unwrap() > 180.0);
    let p = read_edited(|b| {
        let (_, _, c) = column(b, "DATA", "counts_comp_err");
        set_cell(
            b,
            "DATA",
            "counts_comp_err",
            5,
            c.repeat / 3,
            &f32::NAN.to_be_bytes(),
        );
        set_cell(b, "DATA", "counts_comp_err", 9, 0, &(-1.0f32).to_be_bytes());
    })
    .unwrap();
    assert_eq!(p.n_bins(), good.n_bins() - 2);
    let rows: Vec<usize> = p.excluded_bins.iter().map(|x| x.row).collect();
    assert_eq!(rows, [5, 9]);
    assert!(p.excluded_bins[0].reason.contains("counts_comp_err"));
    assert_eq!(p.bins()[5], good.bins()[6]);
    assert_eq!(p.counts.dim().0, p.n_bins());
    assert_eq!(p.rcr.len(), p.n_bins());
}

#[test]
fn plausibility_rules_have_stable_codes() {
    let code = |r: Result<PixelData, L1Error>| r.unwrap_err().reject_code();
    assert_eq!(
        code(read_edited(|b| set_cell(b, "DATA", "rcr", 0, 0, &[8]))),
        Some(RejectCode::BadRcr)
    );
    assert_eq!(
        code(read_edited(|b| {
            for d in 0..32 {
                set_cell(b, "DATA", "detector_masks", 4, d, &[0]);
            }
        })),
        Some(RejectCode::EmptyMasks)
    );
    assert_eq!(
        code(read_edited(|b| set_card(
            b,
            "PRIMARY",
            "DATE-END",
            "'2022-11-11T14:12:12.377'"
        ))),
        Some(RejectCode::BadTimeAxis)
    );
}
