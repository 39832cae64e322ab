//! Script source text and positions in it, and the snippet (`--> file:line:col`, the line, a
//! caret) that error messages show. Knows nothing about Rhai: the script layer converts its
//! positions into [`Span`]s.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A script file's path (as the user gave it) and its text, shared by every span into it.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
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
        self.file.text.lines().nth(self.line - 1)
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
        Arc::new(SourceFile { path: PathBuf::from("services.rhai"), text: text.into() })
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
    fn file_only_span_names_the_file() {
        assert_eq!(Span::file_only(&file("")).snippet(), " --> services.rhai\n");
    }
}
