//! The data files of an audit export: JSON Lines or CSV (RFC 4180), one entry per line or
//! record with every hashed field exactly as stored, plus `prev_hash` and `hash`, so any tool
//! can re-hash each entry. Both are written and read through a SHA-256 that sees every byte,
//! so the file's digest costs no second pass.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::Entry;
use super::manifest::FileDigest;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jsonl" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The data file's name in the export directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Jsonl => "entries.jsonl",
            Format::Csv => "entries.csv",
        }
    }
}

/// The CSV header: the entry's fields in the order they are hashed, then the hash.
pub const CSV_HEADER: &str = "seq,at,kind,message,actor,subject,mailbox,intent,decision,data,prev_hash,hash";

/// Counts and hashes what passes through to `inner`.
struct Hashing<T> {
    inner: T,
    sha: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Self { inner, sha: Sha256::new(), bytes: 0 }
    }

    fn digest(self) -> FileDigest {
        FileDigest { sha256: super::hex(&self.sha.finalize()), bytes: self.bytes }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

const BUFFER: usize = 1 << 20;

/// Writes entries to a new data file.
pub struct EntryWriter {
    format: Format,
    out: BufWriter<Hashing<File>>,
}

impl EntryWriter {
    pub fn create(path: &Path, format: Format) -> io::Result<Self> {
        let file = File::options().write(true).create_new(true).open(path)?;
        let mut out = BufWriter::with_capacity(BUFFER, Hashing::new(file));
        if format == Format::Csv {
            out.write_all(CSV_HEADER.as_bytes())?;
            out.write_all(b"\r\n")?;
        }
        Ok(Self { format, out })
    }

    pub fn write(&mut self, e: &Entry) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, e)?;
                self.out.write_all(b"\n")
            }
            Format::Csv => write_csv(&mut self.out, e),
        }
    }

    /// Flushes and syncs the file; its digest.
    pub fn finish(self) -> io::Result<FileDigest> {
        let hashing = self.out.into_inner().map_err(|e| e.into_error())?;
        hashing.inner.sync_all()?;
        Ok(hashing.digest())
    }
}

fn write_csv(out: &mut impl Write, e: &Entry) -> io::Result<()> {
    let mut seq = itoa_buf();
    out.write_all(itoa(e.seq, &mut seq))?;
    for field in [Some(e.at.as_str()), Some(&e.kind)] {
        out.write_all(b",")?;
        csv_field(out, field)?;
    }
    out.write_all(b",")?;
    if let Some(m) = e.message {
        out.write_all(itoa(m, &mut seq))?;
    }
    let rest = [
        Some(e.actor.as_str()),
        e.subject.as_deref(),
        e.mailbox.as_deref(),
        e.intent.as_deref(),
        e.decision.as_deref(),
        Some(&e.data),
        Some(&e.prev_hash),
        Some(&e.hash),
    ];
    for field in rest {
        out.write_all(b",")?;
        csv_field(out, field)?;
    }
    out.write_all(b"\r\n")
}

/// An absent value is an empty field; an empty string is `""`, so the two hash apart as they
/// do in the database. Anything holding a comma, a quote or a line break is quoted, its quotes
/// doubled (RFC 4180).
fn csv_field(out: &mut impl Write, value: Option<&str>) -> io::Result<()> {
    let Some(v) = value else { return Ok(()) };
    if !v.is_empty() && !v.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        return out.write_all(v.as_bytes());
    }
    out.write_all(b"\"")?;
    let mut parts = v.split('"');
    if let Some(first) = parts.next() {
        out.write_all(first.as_bytes())?;
    }
    for part in parts {
        out.write_all(b"\"\"")?;
        out.write_all(part.as_bytes())?;
    }
    out.write_all(b"\"")
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// A number in decimal without an allocation (sequence numbers, message ids: never negative
/// in a trail, but written correctly if they were).
fn itoa(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Why a line of a data file is not an entry.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    #[error("line {line} is not an entry: {what}")]
    Malformed { line: u64, what: String },
}

/// Reads entries back from a data file, hashing every byte as it goes.
pub struct EntryReader {
    format: Format,
    input: BufReader<Hashing<File>>,
    /// The line the next record starts on (1-based).
    line: u64,
    buf: Vec<u8>,
}

impl EntryReader {
    pub fn open(path: &Path, format: Format) -> io::Result<Self> {
        let input = BufReader::with_capacity(BUFFER, Hashing::new(File::open(path)?));
        Ok(Self { format, input, line: 1, buf: Vec::with_capacity(4096) })
    }

    /// Checks the CSV header line (nothing for JSON Lines).
    pub fn header(&mut self) -> Result<(), ReadError> {
        if self.format == Format::Jsonl {
            return Ok(());
        }
        let fields = self.csv_record()?;
        let names: Vec<String> = fields.unwrap_or_default().into_iter().map(Option::unwrap_or_default).collect();
        if names.join(",") != CSV_HEADER {
            return Err(ReadError::Malformed { line: 1, what: format!("the header is not `{CSV_HEADER}`") });
        }
        Ok(())
    }

    /// The next entry and the line it starts on; `None` at the end of the file.
    pub fn next_entry(&mut self) -> Result<Option<(u64, Entry)>, ReadError> {
        let line = self.line;
        let entry = match self.format {
            Format::Jsonl => self.jsonl_entry()?,
            Format::Csv => self.csv_record()?.map(|f| entry_from_fields(f, line)).transpose()?,
        };
        Ok(entry.map(|e| (line, e)))
    }

    /// Reads what is left (so the digest covers the whole file) and returns the digest.
    pub fn finish(mut self) -> io::Result<FileDigest> {
        io::copy(&mut self.input, &mut io::sink())?;
        Ok(self.input.into_inner().digest())
    }

    fn jsonl_entry(&mut self) -> Result<Option<Entry>, ReadError> {
        self.buf.clear();
        if self.input.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        let line = self.line;
        self.line += 1;
        serde_json::from_slice(&self.buf).map(Some).map_err(|e| ReadError::Malformed { line, what: e.to_string() })
    }

    /// One CSV record, which may span lines inside quotes.
    fn csv_record(&mut self) -> Result<Option<Vec<Option<String>>>, ReadError> {
        self.buf.clear();
        let start = self.line;
        loop {
            if self.input.read_until(b'\n', &mut self.buf)? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(ReadError::Malformed { line: start, what: "a quoted field is not closed before the end of the file".into() });
            }
            self.line += 1;
            // An even number of quotes so far: the record ends at this line break.
            if self.buf.iter().filter(|&&b| b == b'"').count() % 2 == 0 {
                break;
            }
        }
        let text = std::str::from_utf8(&self.buf).map_err(|_| ReadError::Malformed { line: start, what: "not UTF-8".into() })?;
        let record = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text);
        parse_csv_record(record).map(Some).map_err(|what| ReadError::Malformed { line: start, what })
    }
}

/// Splits one record into fields: `None` for an empty unquoted field, the text otherwise.
fn parse_csv_record(record: &str) -> Result<Vec<Option<String>>, String> {
    let mut fields = Vec::with_capacity(12);
    let mut rest = record;
    loop {
        let (field, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let (value, after) = unquote(quoted)?;
            (Some(value), after)
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            if rest[..end].contains('"') {
                return Err(format!("field {} has a quote but does not start with one", fields.len() + 1));
            }
            let value = &rest[..end];
            ((!value.is_empty()).then(|| value.to_string()), &rest[end..])
        };
        fields.push(field);
        match after.strip_prefix(',') {
            Some(next) => rest = next,
            None if after.is_empty() => return Ok(fields),
            None => return Err(format!("unexpected text after the quoted field {}", fields.len())),
        }
    }
}

/// A quoted field's value (after the opening quote) and what follows its closing quote.
fn unquote(s: &str) -> Result<(String, &str), String> {
    let mut value = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let Some(q) = rest.find('"') else { return Err("a quoted field is not closed".into()) };
        value.push_str(&rest[..q]);
        rest = &rest[q + 1..];
        match rest.strip_prefix('"') {
            Some(after) => {
                value.push('"');
                rest = after;
            }
            None => return Ok((value, rest)),
        }
    }
}

fn entry_from_fields(fields: Vec<Option<String>>, line: u64) -> Result<Entry, ReadError> {
    let bad = |what: String| ReadError::Malformed { line, what };
    let [seq, at, kind, message, actor, subject, mailbox, intent, decision, data, prev_hash, hash]: [Option<String>; 12] =
        fields.try_into().map_err(|f: Vec<_>| bad(format!("{} fields, expected 12 ({CSV_HEADER})", f.len())))?;
    let required = |v: Option<String>, name: &str| v.ok_or_else(|| bad(format!("`{name}` is empty")));
    let number = |v: String, name: &str| v.parse::<i64>().map_err(|_| bad(format!("`{name}` is not a number: {v}")));
    Ok(Entry {
        seq: number(required(seq, "seq")?, "seq")?,
        at: required(at, "at")?,
        kind: required(kind, "kind")?,
        message: message.map(|m| number(m, "message")).transpose()?,
        actor: required(actor, "actor")?,
        subject,
        mailbox,
        intent,
        decision,
        data: required(data, "data")?,
        prev_hash: required(prev_hash, "prev_hash")?,
        hash: required(hash, "hash")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64) -> Entry {
        let mut e = Entry {
            seq,
            at: "2026-11-20T10:00:00.000000Z".into(),
            kind: "message.decided".into(),
            message: Some(7),
            actor: "sara".into(),
            subject: None,
            mailbox: Some(String::new()),
            intent: Some("billing".into()),
            decision: Some("a \"quoted\", comma\r\nand a line break".into()),
            data: r#"{"reasons":[{"code":"x"}],"n":1}"#.into(),
            prev_hash: super::super::GENESIS.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    fn round_trip(format: Format) {
        let dir = crate::testing::temp_dir("format");
        let path = dir.join(format.file_name());
        let entries = [entry(1), Entry { message: None, ..entry(2) }, entry(-3)];
        let mut w = EntryWriter::create(&path, format).unwrap();
        entries.iter().for_each(|e| w.write(e).unwrap());
        let written = w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(written, FileDigest { sha256: super::super::sha256_hex(&bytes), bytes: bytes.len() as u64 });

        let mut r = EntryReader::open(&path, format).unwrap();
        r.header().unwrap();
        let mut read = Vec::new();
        while let Some((_, e)) = r.next_entry().unwrap() {
            read.push(e);
        }
        assert_eq!(read, entries, "every field comes back as written, absent and empty apart");
        assert_eq!(r.finish().unwrap(), written);
    }

    #[test]
    fn jsonl_round_trips() {
        round_trip(Format::Jsonl);
    }

    #[test]
    fn csv_round_trips_quotes_line_breaks_and_absent_values() {
        round_trip(Format::Csv);
        let mut out = Vec::new();
        write_csv(&mut out, &entry(1)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("1,2026-11-20T10:00:00.000000Z,message.decided,7,sara,,\"\",billing,\"a \"\"quoted\"\", comma\r\nand"), "{text}");
    }

    #[test]
    fn malformed_csv_is_named_by_line() {
        assert_eq!(parse_csv_record("a,,\"\",\"x\"\"y\"").unwrap(), vec![Some("a".into()), None, Some(String::new()), Some("x\"y".into())]);
        assert!(parse_csv_record("a,b\"c").is_err());
        assert!(parse_csv_record("\"a\"b").is_err());
        let err = entry_from_fields(vec![Some("1".into())], 5).unwrap_err();
        assert!(err.to_string().starts_with("line 5 is not an entry: 1 fields"), "{err}");
        assert_eq!(itoa(-120, &mut itoa_buf()), b"-120");
        assert_eq!(itoa(0, &mut itoa_buf()), b"0");
    }
}
