//! A reader over a spanned TOML tree that reports every problem, not just
//! the first: unknown fields (with the valid ones), wrong types, and values
//! out of range, each at its line and column.

use crate::scenario::diag::Collector;
use sim_core::SimDuration;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// A TOML value with its byte range in the text.
pub type Val<'i> = Spanned<DeValue<'i>>;

fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A table being read, with its path for messages.
#[derive(Clone)]
pub struct Tbl<'a, 'i> {
    /// Where it is in the document, as messages name it (`cluster`,
    /// `steps[3]`); empty for the root.
    pub path: String,
    /// Its entries.
    pub table: &'a DeTable<'i>,
    /// Its byte range in the text; problems with the table as a whole point here.
    pub span: Range<usize>,
}

impl<'a, 'i> Tbl<'a, 'i> {
    /// The table `table` at `path`, spanning `span` of the text.
    pub fn new(path: impl Into<String>, table: &'a DeTable<'i>, span: Range<usize>) -> Self {
        Tbl {
            path: path.into(),
            table,
            span,
        }
    }

    /// The path of field `key` of this table, as messages name it (`cluster.w`).
    pub fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Reports every key not in `allowed`, naming the valid ones.
    pub fn only(&self, c: &mut Collector, allowed: &[&str]) {
        for (k, _) in self.table.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                let name: &str = k.get_ref();
                let hint = closest(name, allowed)
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                c.err(
                    k.span(),
                    self.field(name),
                    format!(
                        "unknown field{hint}; valid fields here are: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// Whether the table has field `key`.
    pub fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    /// Field `key`'s value, unchecked.
    pub fn get(&self, key: &str) -> Option<&'a Val<'i>> {
        self.table.get(key)
    }

    /// The span of a key's value, or of the table if absent.
    pub fn span_of(&self, key: &str) -> Range<usize> {
        self.get(key).map_or(self.span.clone(), |v| v.span())
    }

    fn wrong(&self, c: &mut Collector, key: &str, v: &Val, want: &str) {
        c.err(
            v.span(),
            self.field(key),
            format!("expected {want}, found {}", type_name(v.get_ref())),
        );
    }

    /// Field `key` as a string; none when absent, and a problem reported
    /// when it is of another type (as for every typed getter below).
    pub fn str(&self, c: &mut Collector, key: &str) -> Option<String> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong(c, key, v, "a string");
                None
            }
        }
    }

    /// Field `key` as a boolean.
    pub fn bool(&self, c: &mut Collector, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong(c, key, v, "a boolean (true or false)");
                None
            }
        }
    }

    /// Field `key` as an integer that fits in an `i64`.
    pub fn int(&self, c: &mut Collector, key: &str) -> Option<i64> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(n),
                Err(_) => {
                    c.err(v.span(), self.field(key), "integer out of range");
                    None
                }
            },
            _ => {
                self.wrong(c, key, v, "an integer");
                None
            }
        }
    }

    /// An integer in `lo..=hi`.
    pub fn int_in(&self, c: &mut Collector, key: &str, lo: i64, hi: i64) -> Option<i64> {
        let n = self.int(c, key)?;
        if n < lo || n > hi {
            c.err(
                self.span_of(key),
                self.field(key),
                format!("{n} is out of range; valid values are {lo}..={hi}"),
            );
            return None;
        }
        Some(n)
    }

    /// A count in `lo..=hi`, where `hi` is a documented upper bound
    /// (scenarios/README.md, "Bounds"); the message names the bound.
    pub fn count(&self, c: &mut Collector, key: &str, lo: u64, hi: u64) -> Option<u64> {
        let v = self.get(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong(c, key, v, "a whole number");
            return None;
        };
        let text = i.as_str();
        match i128::from_str_radix(text, i.radix()) {
            Ok(n) if n >= i128::from(lo) && n <= i128::from(hi) => Some(n as u64),
            Ok(n) if n > i128::from(hi) => {
                c.err(
                    v.span(),
                    self.field(key),
                    format!("{n} is above the bound of {hi}; valid values are {lo}..={hi}"),
                );
                None
            }
            Ok(n) => {
                c.err(
                    v.span(),
                    self.field(key),
                    format!("{n} is out of range; valid values are {lo}..={hi}"),
                );
                None
            }
            Err(_) => {
                let what = if text.starts_with('-') {
                    "is out of range"
                } else {
                    "is above the bound of"
                };
                let bound = if text.starts_with('-') {
                    String::new()
                } else {
                    format!(" {hi}")
                };
                c.err(
                    v.span(),
                    self.field(key),
                    format!("{text} {what}{bound}; valid values are {lo}..={hi}"),
                );
                None
            }
        }
    }

    /// Field `key` as a whole number that fits in a `u32`.
    pub fn u32(&self, c: &mut Collector, key: &str) -> Option<u32> {
        self.int_in(c, key, 0, i64::from(u32::MAX))
            .map(|n| n as u32)
    }

    /// Field `key` as a whole number that fits in a `u64`.
    pub fn u64(&self, c: &mut Collector, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(n),
                Err(_) => {
                    c.err(
                        v.span(),
                        self.field(key),
                        "expected a whole number >= 0 that fits in 64 bits",
                    );
                    None
                }
            },
            _ => {
                self.wrong(c, key, v, "an integer");
                None
            }
        }
    }

    /// A number (integer or float).
    pub fn float(&self, c: &mut Collector, key: &str) -> Option<f64> {
        let v = self.get(key)?;
        let x = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            _ => {
                self.wrong(c, key, v, "a number");
                return None;
            }
        };
        if x.is_none_or(|x| !x.is_finite()) {
            c.err(v.span(), self.field(key), "expected a finite number");
            return None;
        }
        x
    }

    /// Field `key` as a number from 0.0 to 1.0.
    pub fn probability(&self, c: &mut Collector, key: &str) -> Option<f64> {
        let p = self.float(c, key)?;
        if !(0.0..=1.0).contains(&p) {
            c.err(
                self.span_of(key),
                self.field(key),
                format!("{p} is not a probability; valid values are 0.0 to 1.0"),
            );
            return None;
        }
        Some(p)
    }

    /// A duration written as a string with a unit: "250us", "10ms", "2s".
    pub fn duration(&self, c: &mut Collector, key: &str) -> Option<SimDuration> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => match SimDuration::parse(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    c.err(v.span(), self.field(key), e);
                    None
                }
            },
            DeValue::Integer(_) | DeValue::Float(_) => {
                c.err(v.span(), self.field(key), "a duration needs a unit; write it as a string like \"250us\", \"10ms\" or \"2s\"");
                None
            }
            _ => {
                self.wrong(c, key, v, "a duration string like \"10ms\"");
                None
            }
        }
    }

    /// A signed duration ("-5ms" or "+5ms" or "5ms"), in microseconds.
    pub fn signed_duration(&self, c: &mut Collector, key: &str) -> Option<i64> {
        let v = self.get(key)?;
        let DeValue::String(s) = v.get_ref() else {
            self.wrong(c, key, v, "a duration string like \"-5ms\"");
            return None;
        };
        let (neg, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        match SimDuration::parse(rest) {
            Ok(d) => {
                let us = d.as_us() as i64;
                Some(if neg { -us } else { us })
            }
            Err(e) => {
                c.err(v.span(), self.field(key), e);
                None
            }
        }
    }

    /// Field `key` as a table, with its path.
    pub fn table(&self, c: &mut Collector, key: &str) -> Option<Tbl<'a, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Tbl::new(self.field(key), t, v.span())),
            _ => {
                self.wrong(c, key, v, "a table");
                None
            }
        }
    }

    /// Field `key` as an array, its elements unchecked.
    pub fn array(&self, c: &mut Collector, key: &str) -> Option<&'a DeArray<'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => {
                self.wrong(c, key, v, "an array");
                None
            }
        }
    }

    /// An array of tables (`[[key]]`), each with its path `key[i]` (1-based).
    pub fn tables(&self, c: &mut Collector, key: &str) -> Vec<Tbl<'a, 'i>> {
        let Some(arr) = self.array(c, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, v) in arr.iter().enumerate() {
            match v.get_ref() {
                DeValue::Table(t) => out.push(Tbl::new(
                    format!("{}[{}]", self.field(key), i + 1),
                    t,
                    v.span(),
                )),
                other => c.err(
                    v.span(),
                    format!("{}[{}]", self.field(key), i + 1),
                    format!("expected a table, found {}", type_name(other)),
                ),
            }
        }
        out
    }

    /// An array of strings.
    pub fn strings(&self, c: &mut Collector, key: &str) -> Option<Vec<(String, Range<usize>)>> {
        let arr = self.array(c, key)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, v) in arr.iter().enumerate() {
            match v.get_ref() {
                DeValue::String(s) => out.push((s.to_string(), v.span())),
                other => {
                    c.err(
                        v.span(),
                        format!("{}[{}]", self.field(key), i + 1),
                        format!("expected a string, found {}", type_name(other)),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// Reports a required field that is missing.
    pub fn require(&self, c: &mut Collector, key: &str, what: &str) -> bool {
        if self.has(key) {
            return true;
        }
        c.err(
            self.span.clone(),
            self.field(key),
            format!("missing; {what}"),
        );
        false
    }
}

/// Reads a TOML file's text, reports every syntax problem, and hands the
/// document's root table to `read`, which reports its own problems through
/// the collector. All of a file's problems come back together.
pub fn read_document<T>(
    file: &str,
    src: &str,
    read: impl FnOnce(&mut Collector, &Tbl) -> Option<T>,
) -> Result<T, crate::scenario::diag::Diags> {
    let mut c = Collector::new(file, src);
    let (doc, errors) = DeTable::parse_recoverable(src);
    for e in &errors {
        let span = e.span().unwrap_or(0..0);
        c.err(
            span,
            "",
            format!("TOML syntax: {}", e.message().trim().replace('\n', " ")),
        );
    }
    if !errors.is_empty() {
        // Reading a half-parsed document would report confusing follow-on problems.
        return Err(c.finish().expect_err("syntax errors were reported"));
    }
    let root = Tbl::new("", doc.get_ref(), doc.span());
    let value = read(&mut c, &root);
    c.finish()?;
    Ok(value.expect("no problems were reported, so the value is complete"))
}

/// The largest input file read, in bytes (16 MiB): far above any real
/// scenario or experiment, and it keeps `/dev/zero` or a huge file from
/// exhausting memory.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads a file for [`read_document`]. A problem with the file itself (it
/// does not exist, cannot be read, is not UTF-8, is too large) names the
/// path with no line and column.
pub fn read_file(path: &str) -> Result<String, crate::scenario::diag::Diags> {
    use std::io::Read;
    let fail = |message: String| {
        crate::scenario::diag::Diags(vec![crate::scenario::diag::Diag {
            file: path.to_string(),
            line: 0,
            col: 0,
            field: String::new(),
            message,
        }])
    };
    let describe = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "cannot read the file: permission denied".into(),
        _ if std::path::Path::new(path).is_dir() => "is a directory; give a .toml file".to_string(),
        _ => format!("cannot read the file: {e}"),
    };
    let file = std::fs::File::open(path).map_err(|e| fail(describe(e)))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(describe(e)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "the file is larger than the bound of {MAX_FILE_BYTES} bytes (16 MiB)"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "the file is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Every `.toml` file below `dir`, sorted, not following symlinked folders
/// (used by the fuzz harness and the tests).
pub fn toml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            // `file_type` does not follow symlinks: a linked folder is not
            // entered, so a link loop cannot make the walk endless.
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The allowed word closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(word, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min()
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(all(test, unix))]
mod listing_tests {
    // A folder that links to itself is listed once, and the walk ends.
    #[test]
    fn a_symlink_loop_ends_the_walk() {
        let d = std::env::temp_dir().join(format!("dynsim-toml-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).expect("dirs");
        std::fs::write(d.join("sub/a.toml"), "").expect("file");
        std::os::unix::fs::symlink(&d, d.join("sub/loop")).expect("symlink");
        let found = super::toml_files(&d);
        assert_eq!(found, vec![d.join("sub/a.toml")]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
