//! The entry point the script's `compose()` and `boss import` use: read a compose file and the
//! `.env` file next to it, and hand both to `read.rs`. The only I/O of the module.

use std::path::Path;
use std::sync::Arc;

use crate::error::{ComposeErrorKind, Error};
use crate::source::{SourceFile, Span};

use super::model::ComposeFile;
use super::read::read;
use super::variables::{Variables, parse_dotenv};

impl ComposeFile {
    /// Reads the compose file at `path` (as the user wrote it), interpolated with `variables`
    /// (usually [`Variables::from_process`]) and, for names they do not set, the `.env` file in
    /// the compose file's directory when there is one. Warnings are in the result.
    pub(crate) fn load(path: &Path, variables: &Variables) -> Result<ComposeFile, Error> {
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let text = read_text(path)?;
        let dotenv_path = directory.join(".env");
        let variables = match std::fs::read_to_string(&dotenv_path) {
            Ok(dotenv) => {
                let dotenv_file = Arc::new(SourceFile::new(dotenv_path, dotenv));
                let entries = parse_dotenv(&dotenv_file.text, variables).map_err(|error| {
                    Error::compose(
                        ComposeErrorKind::Dotenv { problem: error.problem },
                        Span::new(&dotenv_file, error.line, error.column),
                    )
                })?;
                variables.clone().with_defaults(entries)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => variables.clone(),
            Err(error) => {
                return Err(Error::compose(
                    ComposeErrorKind::Unreadable { path: dotenv_path.clone(), reason: error.to_string() },
                    Span::file_only(&Arc::new(SourceFile::new(dotenv_path, String::new()))),
                ));
            }
        };
        ComposeFile::parse(Arc::new(SourceFile::new(path.to_path_buf(), text)), &directory, &variables)
    }

    /// Reads `source`, a compose file whose relative paths are relative to `directory`, with
    /// exactly `variables` (no `.env` file is read).
    pub(crate) fn parse(
        source: Arc<SourceFile>,
        directory: &Path,
        variables: &Variables,
    ) -> Result<ComposeFile, Error> {
        read(&source, directory, variables)
    }
}

fn read_text(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|error| {
        Error::compose(
            ComposeErrorKind::Unreadable { path: path.to_path_buf(), reason: error.to_string() },
            Span::file_only(&Arc::new(SourceFile::new(path.to_path_buf(), String::new()))),
        )
    })
}
