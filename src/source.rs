//! Script source text and positions in it, and the snippet (`--> file:line:col`, the line, a
//! caret) that error messages show. Knows nothing about Rhai: the script layer converts its
//! positions into [`Span`]s.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A script file's path (as the user gave it) and its text, shared by every span into it.
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// The byte offset at which each line starts, computed on first use. Finding a position is
    /// then a binary search, not a scan of all the text before it: one scan per `service(...)`
    /// call made loading a script of ten thousand services quadratic.
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub(crate) fn new(path: PathBuf, text: String) -> SourceFile {
        SourceFile { path, text, line_starts: OnceLock::new() }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0).chain(self.text.match_indices('\n').map(|(index, _)| index + 1)).collect()
        })
    }

    /// The number of lines, as [`str::lines`] counts them.
    pub(crate) fn line_count(&self) -> usize {
        let starts = self.line_starts();
        // A line start at the very end of the text (after a final newline, or in an empty
        // text) begins no line.
        if starts.last() == Some(&self.text.len()) { starts.len() - 1 } else { starts.len() }
    }

    /// The byte offset at which 1-based `line` starts, if the text has that line.
    pub(crate) fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts().get(line.checked_sub(1)?).copied()
    }

    /// The 1-based line holding byte `offset`, and the offset at which that line starts.
    pub(crate) fn line_of(&self, offset: usize) -> (usize, usize) {
        let starts = self.line_starts();
        let line = starts.partition_point(|start| *start <= offset).max(1);
        (line, starts[line - 1])
    }
}

impl PartialEq for SourceFile {
    fn eq(&self, other: &SourceFile) -> bool {
        self.path == other.path && self.text == other.text
    }
}

impl Eq for SourceFile {}

impl std::fmt::Debug for SourceFile {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("SourceFile").field("path", &self.path).field("text", &self.text).finish()
    }
}

/// A point in a script: 1-based line and column. `line == 0` means "somewhere in the file".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub file: Arc<SourceFile>,
    pub line: usize,
    pub column: usize,
}

impl Span {
    pub fn new(file: &Arc<SourceFile>, line: usize, column: usize) -> Span {
        Span { file: Arc::clone(file), line, column }
    }

    /// A span for the whole file, for errors that have no better place.
    pub fn file_only(file: &Arc<SourceFile>) -> Span {
        Span::new(file, 0, 0)
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The source line this span points at, if it has one.
    pub fn line_text(&self) -> Option<&str> {
        if self.line == 0 {
            return None;
        }
        let start = self.file.line_start(self.line)?;
        self.file.text[start..].lines().next()
    }

    /// Renders ` --> file:line:col`, the source line with its number, and a caret under the
    /// column. Every line ends with a newline.
    pub fn snippet(&self) -> String {
        let mut out = String::new();
        let Some(text) = self.line_text() else {
            let _ = writeln!(out, " --> {}", self.path().display());
            return out;
        };
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        let _ = writeln!(out, "{gutter}--> {}:{}:{}", self.path().display(), self.line, self.column);
        let _ = writeln!(out, "{gutter} |");
        let _ = writeln!(out, "{number} | {}", text.replace('\t', "    "));
        // Tabs before the caret were widened to four spaces above; widen them here too.
        let before: String = text.chars().take(self.column.saturating_sub(1)).collect();
        let pad: usize = before.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum();
        let _ = writeln!(out, "{gutter} | {}^", " ".repeat(pad));
        out
    }

    /// `file:line:col` (or just the file when there is no line).
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.path().display().to_string()
        } else {
            format!("{}:{}:{}", self.path().display(), self.line, self.column)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Arc<SourceFile> {
        Arc::new(SourceFile::new(PathBuf::from("services.rhai"), text.into()))
    }

    #[test]
    fn snippet_points_at_the_column() {
        let span = Span::new(&file("let a = 1;\nservice(#{ prots: 1 });\n"), 2, 12);
        assert_eq!(span.snippet(), " --> services.rhai:2:12\n  |\n2 | service(#{ prots: 1 });\n  |            ^\n");
    }

    #[test]
    fn snippet_widens_tabs_consistently() {
        let span = Span::new(&file("\tx"), 1, 2);
        assert_eq!(span.snippet(), " --> services.rhai:1:2\n  |\n1 |     x\n  |     ^\n");
    }

    #[test]
    fn lines_are_found_as_str_lines_counts_them() {
        for text in ["", "a", "a\n", "a\nb", "a\n\nb\n", "\n", "a\r\nb"] {
            let file = file(text);
            assert_eq!(file.line_count(), text.lines().count(), "{text:?}");
            for (index, line) in text.lines().enumerate() {
                assert_eq!(Span::new(&file, index + 1, 1).line_text(), Some(line), "{text:?}");
            }
        }
        let file = file("ab\ncd\n");
        assert_eq!([0, 1, 2, 3, 5].map(|offset| file.line_of(offset)), [(1, 0), (1, 0), (1, 0), (2, 3), (2, 3)]);
        assert_eq!((file.line_start(2), file.line_start(4)), (Some(3), None));
    }

    #[test]
    fn file_only_span_names_the_file() {
        assert_eq!(Span::file_only(&file("")).snippet(), " --> services.rhai\n");
    }
}
