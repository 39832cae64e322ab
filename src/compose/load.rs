//! The entry point the script's `compose()` and `boss import` use: read a compose file and the
//! `.env` file for it, and hand both to `read.rs`. The only I/O of the module.

use std::path::{Path, PathBuf};
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
        let source = read_source(path)?;
        let dotenv = directory_of(path).join(".env");
        let variables = match read_text(&dotenv) {
            Ok(text) => with_dotenv(variables, dotenv, text)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => variables.clone(),
            Err(error) => return Err(unreadable(&dotenv, &error)),
        };
        ComposeFile::parse(source, &directory_of(path), &variables)
    }

    /// [`ComposeFile::load`] with `env_file` (compose's `--env-file`, which must exist) in
    /// place of the `.env` next to the compose file.
    pub(crate) fn load_with_env_file(
        path: &Path,
        variables: &Variables,
        env_file: &Path,
    ) -> Result<ComposeFile, Error> {
        let source = read_source(path)?;
        let text = read_text(env_file).map_err(|error| unreadable(env_file, &error))?;
        let variables = with_dotenv(variables, env_file.to_path_buf(), text)?;
        ComposeFile::parse(source, &directory_of(path), &variables)
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

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn read_text(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

fn read_source(path: &Path) -> Result<Arc<SourceFile>, Error> {
    let text = read_text(path).map_err(|error| unreadable(path, &error))?;
    Ok(Arc::new(SourceFile::new(path.to_path_buf(), text)))
}

fn unreadable(path: &Path, error: &std::io::Error) -> Error {
    Error::compose(
        ComposeErrorKind::Unreadable { path: path.to_path_buf(), reason: error.to_string() },
        Span::file_only(&Arc::new(SourceFile::new(path.to_path_buf(), String::new()))),
    )
}

/// `variables`, then the entries of the `.env` file at `path` for the names they do not set.
fn with_dotenv(variables: &Variables, path: PathBuf, text: String) -> Result<Variables, Error> {
    let file = Arc::new(SourceFile::new(path, text));
    let entries = parse_dotenv(&file.text, variables).map_err(|error| {
        Error::compose(ComposeErrorKind::Dotenv { problem: error.problem }, Span::new(&file, error.line, error.column))
    })?;
    Ok(variables.clone().with_defaults(entries))
}
