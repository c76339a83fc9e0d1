//! Problems found in a user's input, each with file, line, column, field,
//! and what would be valid.

use std::fmt;
use std::ops::Range;

/// One problem in an input file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diag {
    /// The file's name, as given.
    pub file: String,
    /// The 1-based line; 0 when the problem is with the file as a whole.
    pub line: usize,
    /// The 1-based column, in bytes.
    pub col: usize,
    /// The field the problem is in, as a path (`cluster.w`, `steps[3].node`); empty for syntax errors.
    pub field: String,
    /// What is wrong, and what would be valid.
    pub message: String,
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // About the file itself, not a place in it.
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)
    }
}

/// Every problem found in one input, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Diags(pub Vec<Diag>);

impl fmt::Display for Diags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        let n = self.0.len();
        write!(f, "\n{n} problem{} found", if n == 1 { "" } else { "s" })
    }
}

/// Collects problems while reading one file.
pub struct Collector<'s> {
    /// The file's name, as problems name it.
    pub file: &'s str,
    src: &'s str,
    /// The byte offset of each line's start, so that a position is found by
    /// a binary search: reading stays linear in the file's size however
    /// many positions its messages and step names ask for.
    line_starts: Vec<usize>,
    /// The problems found so far, in the order found.
    pub diags: Vec<Diag>,
}

impl<'s> Collector<'s> {
    /// A collector for the text `src` of the file named `file`.
    pub fn new(file: &'s str, src: &'s str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Collector {
            file,
            src,
            line_starts,
            diags: Vec::new(),
        }
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src.len());
        // The last line start at or before the offset (the first is 0).
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let col = offset - self.line_starts[line - 1] + 1;
        (line, col)
    }

    /// Records a problem at the start of `span` (a byte range of the text).
    pub fn err(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        let (line, col) = self.line_col(span.start);
        self.diags.push(Diag {
            file: self.file.to_string(),
            line,
            col,
            field: field.into(),
            message: message.into(),
        });
    }

    /// Ok when nothing was found; otherwise every problem, sorted into file
    /// order with duplicates dropped.
    pub fn finish(mut self) -> Result<(), Diags> {
        if self.diags.is_empty() {
            Ok(())
        } else {
            self.diags.sort();
            self.diags.dedup();
            Err(Diags(self.diags))
        }
    }
}
