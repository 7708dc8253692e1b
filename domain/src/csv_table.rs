//! Reading the CSV tables of the crate (instrument tables, ELUT index and tables, flare lists)
//! with the `csv` crate, one way for all of them: RFC 4180 quoting (commas, `""` and
//! newlines inside quoted fields), a UTF-8 byte-order mark skipped, fields trimmed, blank
//! records skipped, each record with the 1-based line it starts on.

/// A CSV text that the reader could not split into records.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {detail}")]
pub struct CsvError {
    /// 1-based line of the failing record.
    pub line: usize,
    /// What the CSV reader reported.
    pub detail: String,
}

/// The 1-based line of a byte offset (the CSV reader's own line count skips blank lines).
/// Blank lines before a record are skipped (the reader reports the record as starting there).
fn line_of(text: &str, byte: u64) -> usize {
    let bytes = text.as_bytes();
    let mut end = (byte as usize).min(bytes.len());
    while end < bytes.len() && (bytes[end] == b'\n' || bytes[end] == b'\r') {
        end += 1;
    }
    bytes[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The non-blank records of `text` with the line each starts on; fields trimmed.
pub fn records(text: &str) -> impl Iterator<Item = Result<(usize, Vec<String>), CsvError>> + '_ {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
        .into_records()
        .filter_map(move |r| match r {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| line_of(text, p.byte()));
                let fields: Vec<String> = rec.iter().map(str::to_string).collect();
                (!fields.iter().all(|f| f.is_empty())).then_some(Ok((line, fields)))
            }
            Err(e) => Some(Err(CsvError {
                line: e.position().map_or(0, |p| line_of(text, p.byte())),
                detail: e.to_string(),
            })),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_newlines_bom_and_blank_lines() {
        let text = "\u{feff}a,b,c\n\n x ,\"b,c\",\"d\"\"e\nf\"\n,,g\n";
        let got: Vec<(usize, Vec<String>)> = records(text).map(|r| r.unwrap()).collect();
        assert_eq!(got[0], (1, vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(
            got[1],
            (3, vec!["x".into(), "b,c".into(), "d\"e\nf".into()])
        );
        assert_eq!(got[2], (5, vec![String::new(), String::new(), "g".into()]));
        assert_eq!(got.len(), 3);
    }
}
