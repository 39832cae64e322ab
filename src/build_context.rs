//! The build context sent to the engine: the `build_from` directory as an in-memory tar,
//! filtered by its `.dockerignore` with Docker's own matching rules. The classic builder of
//! older engines does not apply `.dockerignore` itself, so the client must.
//!
//! Docker's rules differ from gitignore's: `*.log` matches only at the context root, `**`
//! matches any number of directories, a pattern that matches a directory excludes everything
//! below it, a leading `!` re-includes, and the last matching line wins.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

/// One line of a `.dockerignore`.
#[derive(Debug)]
struct Rule {
    matcher: GlobMatcher,
    exception: bool,
}

/// The parsed `.dockerignore` of a context.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

impl DockerIgnore {
    /// Parses `.dockerignore` text. Returns the offending line for a pattern that is not a
    /// valid glob.
    pub fn parse(text: &str) -> Result<DockerIgnore, String> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|error| format!("invalid pattern `{line}` in .dockerignore: {error}"))?;
            rules.push(Rule { matcher: glob.compile_matcher(), exception });
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether `relative` (with `/` separators) is left out of the context: the last rule that
    /// matches the path or one of its parent directories decides.
    pub fn excludes(&self, relative: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if prefixes(relative).any(|prefix| rule.matcher.is_match(prefix)) {
                excluded = !rule.exception;
            }
        }
        excluded
    }
}

/// `a/b/c` → `a`, `a/b`, `a/b/c`.
fn prefixes(relative: &str) -> impl Iterator<Item = &str> {
    relative.match_indices('/').map(|(index, _)| &relative[..index]).chain(std::iter::once(relative))
}

/// Normalises a pattern the way Docker does: no leading `/` or `./`, no trailing `/`, no `.`
/// components.
fn clean(pattern: &str) -> String {
    let parts: Vec<&str> = pattern.split('/').filter(|part| !part.is_empty() && *part != ".").collect();
    parts.join("/")
}

/// Packs `directory` into a tar, leaving out what `.dockerignore` excludes, but always keeping
/// the Dockerfile and `.dockerignore` (as the docker CLI does).
pub fn pack(directory: &Path, dockerfile: &str) -> Result<Vec<u8>, String> {
    let ignore = match std::fs::read_to_string(directory.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
        Err(error) => return Err(format!("cannot read .dockerignore: {error}")),
    };
    let dockerfile = clean(dockerfile);
    let mut files = Vec::new();
    collect(directory, directory, &mut files).map_err(|error| format!("cannot read the build context: {error}"))?;
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    for (absolute, relative) in files {
        let keep = relative == dockerfile || relative == ".dockerignore" || !ignore.excludes(&relative);
        if keep {
            builder
                .append_path_with_name(&absolute, &relative)
                .map_err(|error| format!("cannot add `{relative}` to the build context: {error}"))?;
        }
    }
    builder.into_inner().map_err(|error| format!("cannot finish the build context: {error}"))
}

/// Every file, symlink and empty directory under `root`, sorted, with `/`-separated relative
/// paths.
fn collect(root: &Path, directory: &Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(directory)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    if entries.is_empty() && directory != root {
        out.push((directory.to_path_buf(), relative(root, directory)));
    }
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.push((path.clone(), relative(root, &path)));
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.components().map(|component| component.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(patterns: &str, path: &str, excluded: bool) {
        let ignore = DockerIgnore::parse(patterns).unwrap();
        assert_eq!(ignore.excludes(path), excluded, "patterns {patterns:?} on {path:?}");
    }

    #[test]
    fn docker_matching_rules() {
        check("*.log", "a.log", true);
        check("*.log", "sub/a.log", false);
        check("**/*.tmp", "a.tmp", true);
        check("**/*.tmp", "x/y/a.tmp", true);
        check("target/\n!target/keep.txt", "target/x.o", true);
        check("target/\n!target/keep.txt", "target/keep.txt", false);
        check("/secret", "secret", true);
        check("./secret", "secret", true);
        check("/secret", "a/secret", false);
        check("node_modules", "node_modules/a/b.js", true);
        check("# comment\n\n  ", "anything", false);
        check("*\n!src", "src/main.rs", false);
        check("*\n!src", "README", true);
        check("a?c", "abc", true);
        check("[ab].txt", "b.txt", true);
    }

    #[test]
    fn pack_leaves_out_ignored_files_but_keeps_the_dockerfile() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(root.join(".dockerignore"), "secret.txt\nDockerfile\nlogs\n").unwrap();
        std::fs::write(root.join("secret.txt"), "no").unwrap();
        std::fs::write(root.join("app.txt"), "yes").unwrap();
        std::fs::create_dir_all(root.join("logs/deep")).unwrap();
        std::fs::write(root.join("logs/deep/x.log"), "no").unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/main.rs"), "yes").unwrap();
        let tar_bytes = pack(root, "Dockerfile").unwrap();
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let names: Vec<String> =
            archive.entries().unwrap().map(|entry| entry.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, [".dockerignore", "Dockerfile", "app.txt", "src/main.rs"]);
    }

    #[test]
    fn a_bad_pattern_is_reported() {
        assert!(DockerIgnore::parse("[").unwrap_err().contains("invalid pattern `[`"));
    }
}
