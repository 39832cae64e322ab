//! The invariants of ARCHITECTURE.md that reading the source can check: which files may name
//! bollard, Rhai and the YAML parser, which may write to the terminal, and that every file
//! says what it owns.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its path relative to the crate root.
fn source_files() -> Vec<(String, String)> {
    fn walk(directory: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    walk(&root.join("src"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            (relative, fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// `line` without its string literals (roughly: text between a pair of `"`), so that a log
/// filter naming a crate is not taken for code that uses it.
fn without_strings(line: &str) -> String {
    line.split('"').step_by(2).collect::<Vec<_>>().join("\"\"")
}

/// The files outside `allowed` whose code (comments and strings left out) contains any of
/// `needles`.
fn offenders(needles: &[&str], allowed: &dyn Fn(&str) -> bool) -> Vec<String> {
    source_files()
        .into_iter()
        .filter(|(path, _)| !allowed(path))
        .filter(|(_, text)| {
            text.lines()
                .map(str::trim_start)
                .filter(|line| !line.starts_with("//"))
                .map(without_strings)
                .any(|line| needles.iter().any(|needle| line.contains(needle)))
        })
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn only_the_docker_backend_names_bollard() {
    assert_eq!(offenders(&["bollard"], &|path| path == "src/docker.rs"), Vec::<String>::new());
}

#[test]
fn only_the_compose_yaml_tree_names_the_yaml_parser() {
    assert_eq!(offenders(&["saphyr"], &|path| path == "src/compose/yaml.rs"), Vec::<String>::new());
}

#[test]
fn only_the_script_layer_names_rhai() {
    assert_eq!(offenders(&["rhai::", "use rhai"], &|path| path.starts_with("src/script/")), Vec::<String>::new());
}

#[test]
fn only_output_and_the_entry_point_write_to_the_terminal() {
    let writers = ["println!", "eprintln!", "print!(", "eprint!(", "io::stderr", "io::stdout"];
    let allowed =
        |path: &str| matches!(path, "src/output.rs" | "src/lib.rs" | "src/main.rs") || path.starts_with("src/output/");
    assert_eq!(offenders(&writers, &allowed), Vec::<String>::new());
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let undocumented: Vec<String> =
        source_files().into_iter().filter(|(_, text)| !text.starts_with("//!")).map(|(path, _)| path).collect();
    assert_eq!(undocumented, Vec::<String>::new());
}
