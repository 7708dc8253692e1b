//! The FITS structure and checksum check that runs before cfitsio sees a file.
//!
//! It walks the HDUs by their headers alone (80-character cards in 2880-byte blocks, data size
//! from `BITPIX`, `NAXISn`, `PCOUNT`, `GCOUNT`; FITS standard 4.0 §3–4, §7.3.5), which tells a
//! file that is not FITS (`not_fits`: no `SIMPLE = T`) from one that ends early
//! (`truncated`), and then verifies `DATASUM` and `CHECKSUM` wherever a header has them
//! (FITS standard 4.0 Appendix J, "checksum keywords"): the 32-bit ones'-complement sum of
//! the data unit must equal `DATASUM`, and the sum of header plus data must be all ones
//! (−0) or zero. STIX L1 and aux files carry both keys in every HDU, so a flipped bit
//! anywhere in CONTROL, DATA or ENERGIES is caught here (`checksum_mismatch`).
//!
//! The sums are our own code; `tests::sums_agree_with_cfitsio` checks them against cfitsio's
//! `ffvcks` on the real files and on damaged copies. [`reseal`] recomputes both keys after a
//! deliberate edit (used by the damaged-file corpus of the tests to build files whose
//! checksums are right but whose content is not).

use super::integrity::RejectCode;
use std::path::Path;

/// Bytes of one FITS block.
pub const BLOCK_BYTES: usize = 2880;
/// Bytes of one header card.
const CARD_BYTES: usize = 80;
/// Most header blocks one HDU may have (real STIX headers use 2–4).
const MAX_HEADER_BLOCKS: usize = 1000;

/// Where one HDU lies in the file and the header values the check needs.
#[derive(Debug, Clone, PartialEq)]
pub struct HduSpan {
    /// `EXTNAME`, or `PRIMARY` for the first HDU.
    pub name: String,
    /// First byte of the header.
    pub header_start: usize,
    /// First byte of the data unit (= end of the header blocks).
    pub data_start: usize,
    /// Bytes of the data unit including its padding to whole blocks.
    pub data_len_padded: usize,
    /// Byte offset of the `DATASUM` card, when present.
    datasum_card: Option<usize>,
    /// Byte offset of the `CHECKSUM` card, when present.
    checksum_card: Option<usize>,
    /// The `DATASUM` value, when present and numeric.
    datasum: Option<u64>,
}

/// A refusal of the structure or checksum check: a code and a human reason.
pub type Refusal = (RejectCode, String);

/// The 32-bit ones'-complement sum of `bytes` (big-endian words, length a multiple of 4)
/// added to `init` (FITS standard Appendix J).
pub fn ones_complement_sum(bytes: &[u8], init: u32) -> u32 {
    let mut sum = u64::from(init);
    for w in bytes.chunks_exact(4) {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
        // Fold from time to time so that the accumulator can never overflow.
        if sum >> 62 != 0 {
            sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        }
    }
    while sum >> 32 != 0 {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
    }
    sum as u32
}

fn card_key(card: &[u8]) -> &str {
    std::str::from_utf8(&card[..8]).unwrap_or("").trim_end()
}

/// The value field of a `KEY     = value / comment` card, trimmed, quotes removed.
fn card_value(card: &[u8]) -> Option<String> {
    if &card[8..10] != b"= " {
        return None;
    }
    let text = String::from_utf8_lossy(&card[10..]);
    let t = text.trim_start();
    if let Some(rest) = t.strip_prefix('\'') {
        let end = rest.find('\'').unwrap_or(rest.len());
        return Some(rest[..end].trim().to_string());
    }
    Some(t.split('/').next().unwrap_or("").trim().to_string())
}

fn int_value(card: &[u8]) -> Option<i64> {
    card_value(card)?.parse::<i64>().ok()
}

/// Walks the HDUs of a whole file held in memory. Refuses non-FITS and truncated files.
pub fn hdu_spans(bytes: &[u8]) -> Result<Vec<HduSpan>, Refusal> {
    if bytes.len() < BLOCK_BYTES || !bytes.starts_with(b"SIMPLE  =") {
        return Err((
            RejectCode::NotFits,
            "not a FITS file: it does not start with a 2880-byte header block 'SIMPLE  = T'".into(),
        ));
    }
    let simple = card_value(&bytes[..CARD_BYTES]).unwrap_or_default();
    if simple != "T" {
        return Err((
            RejectCode::NotFits,
            format!("not a standard FITS file: SIMPLE = {simple} (must be T)"),
        ));
    }
    let mut spans = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let first = spans.is_empty();
        if !first && !bytes[pos..].starts_with(b"XTENSION=") {
            // Trailing special records or padding after the last HDU: not an HDU.
            break;
        }
        let header_start = pos;
        let (mut bitpix, mut naxis, mut pcount, mut gcount) = (None, None, 0i64, 1i64);
        let mut axes: Vec<(usize, i64)> = Vec::new();
        let mut name = if first {
            "PRIMARY".to_string()
        } else {
            format!("HDU {}", spans.len() + 1)
        };
        let (mut datasum_card, mut checksum_card, mut datasum) = (None, None, None);
        let mut ended = false;
        let mut blocks = 0;
        while !ended {
            if pos + BLOCK_BYTES > bytes.len() {
                return Err((
                    RejectCode::Truncated,
                    format!(
                        "truncated: the header of {name} has no END card before the file ends at byte {}",
                        bytes.len()
                    ),
                ));
            }
            blocks += 1;
            if blocks > MAX_HEADER_BLOCKS {
                return Err((
                    RejectCode::NotFits,
                    format!("the header of {name} has no END card"),
                ));
            }
            for (i, card) in bytes[pos..pos + BLOCK_BYTES]
                .chunks_exact(CARD_BYTES)
                .enumerate()
            {
                let at = pos + i * CARD_BYTES;
                match card_key(card) {
                    "END" => {
                        ended = true;
                        break;
                    }
                    "BITPIX" => bitpix = int_value(card),
                    "NAXIS" => naxis = int_value(card),
                    "PCOUNT" => pcount = int_value(card).unwrap_or(-1),
                    "GCOUNT" => gcount = int_value(card).unwrap_or(-1),
                    "EXTNAME" => {
                        if let Some(v) = card_value(card) {
                            name = v;
                        }
                    }
                    "DATASUM" => {
                        datasum_card = Some(at);
                        datasum = card_value(card).and_then(|v| v.parse::<u64>().ok());
                    }
                    "CHECKSUM" => checksum_card = Some(at),
                    k if k.starts_with("NAXIS") => {
                        if let (Ok(n), Some(v)) = (k[5..].parse::<usize>(), int_value(card)) {
                            axes.push((n, v));
                        }
                    }
                    _ => {}
                }
            }
            pos += BLOCK_BYTES;
        }
        let (Some(bitpix), Some(naxis)) = (bitpix, naxis) else {
            return Err((
                RejectCode::NotFits,
                format!("the header of {name} lacks BITPIX or NAXIS"),
            ));
        };
        if ![8, 16, 32, 64, -32, -64].contains(&bitpix)
            || !(0..=999).contains(&naxis)
            || pcount < 0
            || gcount < 0
        {
            return Err((
                RejectCode::NotFits,
                format!(
                    "the header of {name} is malformed (BITPIX {bitpix}, NAXIS {naxis}, PCOUNT {pcount}, GCOUNT {gcount})"
                ),
            ));
        }
        let mut n_elements: i128 = if naxis == 0 { 0 } else { 1 };
        for k in 1..=naxis as usize {
            let Some(&(_, v)) = axes.iter().find(|(n, _)| *n == k) else {
                return Err((
                    RejectCode::NotFits,
                    format!("the header of {name} lacks NAXIS{k}"),
                ));
            };
            if v < 0 {
                return Err((RejectCode::NotFits, format!("{name}: NAXIS{k} = {v}")));
            }
            n_elements = n_elements.saturating_mul(i128::from(v));
        }
        let data_bytes: i128 = if naxis == 0 {
            0
        } else {
            i128::from(bitpix.abs() / 8) * i128::from(gcount) * (i128::from(pcount) + n_elements)
        };
        let padded =
            (data_bytes + BLOCK_BYTES as i128 - 1) / BLOCK_BYTES as i128 * BLOCK_BYTES as i128;
        let available = (bytes.len() - pos) as i128;
        if padded > available {
            return Err((
                RejectCode::Truncated,
                format!(
                    "truncated: {name} announces {data_bytes} data bytes but the file has only {available} left",
                ),
            ));
        }
        let padded = padded as usize;
        spans.push(HduSpan {
            name,
            header_start,
            data_start: pos,
            data_len_padded: padded,
            datasum_card,
            checksum_card,
            datasum,
        });
        pos += padded;
    }
    Ok(spans)
}

/// Verifies `DATASUM` and `CHECKSUM` of every HDU that has them.
pub fn verify_checksums(bytes: &[u8], spans: &[HduSpan]) -> Result<(), Refusal> {
    for s in spans {
        let data = &bytes[s.data_start..s.data_start + s.data_len_padded];
        let data_sum = ones_complement_sum(data, 0);
        if s.datasum_card.is_some() {
            match s.datasum {
                Some(expected) if expected == u64::from(data_sum) => {}
                Some(expected) => {
                    return Err((
                        RejectCode::ChecksumMismatch,
                        format!(
                            "checksum mismatch in {}: DATASUM says {expected}, the data unit sums to {data_sum}",
                            s.name
                        ),
                    ));
                }
                None => {
                    return Err((
                        RejectCode::ChecksumMismatch,
                        format!("checksum mismatch in {}: DATASUM is not a number", s.name),
                    ));
                }
            }
        }
        if s.checksum_card.is_some() {
            let header = &bytes[s.header_start..s.data_start];
            let total = ones_complement_sum(header, data_sum);
            if total != 0 && total != u32::MAX {
                return Err((
                    RejectCode::ChecksumMismatch,
                    format!(
                        "checksum mismatch in {}: header and data do not sum to −0 as CHECKSUM requires (header or data changed after it was written)",
                        s.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Structure and checksums of a file on disk; `Err` with the code to refuse it with.
pub fn check_file(path: &Path) -> Result<(), Refusal> {
    let bytes = std::fs::read(path).map_err(|e| {
        (
            RejectCode::NotFits,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let spans = hdu_spans(&bytes)?;
    verify_checksums(&bytes, &spans)
}

/// The 16-character ASCII encoding of a 32-bit value used by `CHECKSUM` (FITS standard
/// Appendix J: each byte split into four near-equal parts offset by `'0'`, avoiding
/// punctuation, then rotated by one).
pub fn encode_checksum(value: u32) -> String {
    const EXCLUDE: [u8; 13] = [
        0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60,
    ];
    let mut asc = [0u8; 16];
    for i in 0..4 {
        let byte = (value >> (24 - 8 * i)) & 0xff;
        let quotient = (byte / 4 + 0x30) as u8;
        let remainder = (byte % 4) as u8;
        let mut ch = [quotient; 4];
        ch[0] += remainder;
        loop {
            let mut changed = false;
            for ex in EXCLUDE {
                for j in [0usize, 2] {
                    if ch[j] == ex || ch[j + 1] == ex {
                        ch[j] += 1;
                        ch[j + 1] -= 1;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        for j in 0..4 {
            asc[4 * j + i] = ch[j];
        }
    }
    (0..16)
        .map(|i| asc[(i + 15) % 16] as char)
        .collect::<String>()
}

fn write_card(bytes: &mut [u8], at: usize, text: &str) {
    let card = format!("{text:<80}");
    bytes[at..at + CARD_BYTES].copy_from_slice(&card.as_bytes()[..CARD_BYTES]);
}

/// Recomputes `DATASUM` and `CHECKSUM` of every HDU that has them, in place, so that a file
/// edited on purpose passes [`verify_checksums`] again.
pub fn reseal(bytes: &mut [u8]) -> Result<(), Refusal> {
    let spans = hdu_spans(bytes)?;
    for s in &spans {
        let data_sum =
            ones_complement_sum(&bytes[s.data_start..s.data_start + s.data_len_padded], 0);
        if let Some(at) = s.datasum_card {
            write_card(
                bytes,
                at,
                &format!("DATASUM = '{data_sum}' / data unit checksum updated"),
            );
        }
        if let Some(at) = s.checksum_card {
            write_card(
                bytes,
                at,
                "CHECKSUM= '0000000000000000' / HDU checksum updated",
            );
            let sum = ones_complement_sum(&bytes[s.header_start..s.data_start], data_sum);
            write_card(
                bytes,
                at,
                &format!(
                    "CHECKSUM= '{}' / HDU checksum updated",
                    encode_checksum(!sum)
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(name: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/stix/l1")).join(name)
    }

    const M12: &str =
        "solo_L1_stix-sci-xray-cpd_20221111T111102-20221111T121212_V01_2211116471-54717.fits";
    const AUX: &str = "solo_L2_stix-aux-ephemeris_20221111_V01.fits";

    /// cfitsio's own verdict (`ffvcks`) on every HDU: (datastatus, hdustatus) with 1 = right,
    /// 0 = keyword absent, −1 = wrong.
    fn cfitsio_verdicts(path: &Path) -> Vec<(i32, i32)> {
        let mut f = fitsio::FitsFile::open(path).unwrap();
        let n = f.iter().count();
        let mut out = Vec::new();
        for i in 0..n {
            f.hdu(i).unwrap();
            let (mut data, mut hdu, mut status) = (0, 0, 0);
            // SAFETY: `f` is an open cfitsio file, the raw pointer is used only while `f`
            // lives, on this thread, and the current HDU was just selected through `f`.
            unsafe {
                fitsio::sys::ffvcks(f.as_raw(), &mut data, &mut hdu, &mut status);
            }
            assert_eq!(status, 0);
            out.push((data, hdu));
        }
        out
    }

    fn ours(bytes: &[u8]) -> Vec<(i32, i32)> {
        let spans = hdu_spans(bytes).unwrap();
        spans
            .iter()
            .map(|s| {
                let d =
                    ones_complement_sum(&bytes[s.data_start..s.data_start + s.data_len_padded], 0);
                let data_ok = match (s.datasum_card, s.datasum) {
                    (None, _) => 0,
                    (Some(_), Some(v)) if v == u64::from(d) => 1,
                    _ => -1,
                };
                let hdu_ok = match s.checksum_card {
                    None => 0,
                    Some(_) => {
                        let t = ones_complement_sum(&bytes[s.header_start..s.data_start], d);
                        if t == 0 || t == u32::MAX { 1 } else { -1 }
                    }
                };
                (data_ok, hdu_ok)
            })
            .collect()
    }

    #[test]
    fn sums_agree_with_cfitsio() {
        let dir = tempfile::tempdir().unwrap();
        for name in [M12, AUX] {
            let path = real(name);
            let bytes = std::fs::read(&path).unwrap();
            let v = cfitsio_verdicts(&path);
            assert!(v.iter().all(|&(d, h)| d == 1 && h == 1), "{name}: {v:?}");
            assert_eq!(ours(&bytes), v, "{name}");
            assert!(check_file(&path).is_ok());
            let spans = hdu_spans(&bytes).unwrap();
            let data = spans.iter().find(|s| s.name == "DATA").unwrap();
            // A flipped bit in a data byte, and one in the comment of a header card.
            for at in [data.data_start + 1234, data.header_start + 8 * 80 + 75] {
                let mut b = bytes.clone();
                b[at] ^= 0x04;
                let p = dir.path().join("flipped.fits");
                std::fs::write(&p, &b).unwrap();
                let v = cfitsio_verdicts(&p);
                assert_eq!(ours(&b), v, "{name} flip at {at}");
                assert!(v.iter().any(|&(d, h)| d == -1 || h == -1));
                assert_eq!(
                    verify_checksums(&b, &hdu_spans(&b).unwrap()).unwrap_err().0,
                    RejectCode::ChecksumMismatch
                );
                // Resealed, both cfitsio and we accept it again.
                reseal(&mut b).unwrap();
                std::fs::write(&p, &b).unwrap();
                let v = cfitsio_verdicts(&p);
                assert!(v.iter().all(|&(d, h)| d == 1 && h == 1), "{v:?}");
                assert_eq!(ours(&b), v);
            }
        }
    }

    #[test]
    fn structure_refusals() {
        let bytes = std::fs::read(real(M12)).unwrap();
        assert_eq!(hdu_spans(b"hello").unwrap_err().0, RejectCode::NotFits);
        let mut f = bytes.clone();
        f[29] = b'F';
        assert_eq!(hdu_spans(&f).unwrap_err().0, RejectCode::NotFits);
        for cut in [bytes.len() - 2880, bytes.len() / 2, 5000] {
            assert_eq!(
                hdu_spans(&bytes[..cut]).unwrap_err().0,
                RejectCode::Truncated,
                "{cut}"
            );
        }
        let spans = hdu_spans(&bytes).unwrap();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["PRIMARY", "CONTROL", "DATA", "IDB_VERSIONS", "ENERGIES"]
        );
        let last = spans.last().unwrap();
        assert_eq!(last.data_start + last.data_len_padded, bytes.len());
    }

    /// The encoding gives 16 alphanumeric characters (no punctuation), as the standard
    /// requires; its correctness is checked by cfitsio in `sums_agree_with_cfitsio`.
    #[test]
    fn encoding_is_alphanumeric() {
        for v in [0u32, 1, 0xFFFF_FFFF, 0x1234_5678, 2_054_686_286] {
            let s = encode_checksum(v);
            assert_eq!(s.len(), 16);
            assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
        }
    }
}
