//! Gives every test its own group name and removes, when the test ends, every container,
//! volume, network and image labelled with that group, whether the test passed or panicked.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use super::docker::{FOREIGN_LABEL, GROUP_LABEL, try_docker};

/// The longest group name [`unique_group`] returns. Containers are named `<group>-<service>`
/// and the network `boss-<group>`, so this leaves room below the 63 characters of a hostname
/// label.
pub(crate) const MAX_GROUP_LEN: usize = 40;

/// A group name no other test, thread or process uses at the same time:
/// `t-<short-name>-<pid>-<counter>`.
///
/// The result is lowercase, uses only `[a-z0-9-]`, starts with a letter, ends with a digit
/// and is at most [`MAX_GROUP_LEN`] characters long. The pid keeps nextest's test processes
/// apart and the counter keeps the threads of one `cargo test` process apart.
pub(crate) fn unique_group(test_name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("-{}-{counter}", std::process::id());
    let budget = MAX_GROUP_LEN - "t-".len() - suffix.len();
    let slug = slugify(test_name);
    // The slug is ASCII, so any byte index is a character boundary.
    let short_name = slug[..slug.len().min(budget)].trim_end_matches('-');
    let short_name = if short_name.is_empty() { "x" } else { short_name };
    format!("t-{short_name}{suffix}")
}

/// Lowercases `text` and turns every run of characters outside `[a-z0-9]` into one `-`,
/// with none at either end.
fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for character in text.chars().map(|character| character.to_ascii_lowercase()) {
        if character.is_ascii_lowercase() || character.is_ascii_digit() {
            slug.push(character);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// Removes the group's Docker resources when dropped; see [`remove_group_resources`].
///
/// Drop runs during a panic too, so a failing test cleans up after itself. Only a killed test
/// process (a nextest timeout, Ctrl-C) leaves resources behind.
#[derive(Debug)]
pub(crate) struct GroupGuard {
    group: String,
}

impl GroupGuard {
    pub(crate) fn new(group: &str) -> Self {
        Self { group: group.to_owned() }
    }

    pub(crate) fn group(&self) -> &str {
        &self.group
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // A panic here would abort a test that is already unwinding, so problems are only
        // reported; nextest shows them with the output of a failed test.
        if let Err(problems) = remove_group_resources(&self.group) {
            eprintln!("warning: cleanup of test group `{}` is incomplete:\n{problems}", self.group);
        }
    }
}

/// Force-removes every container, then every volume, network and image labelled
/// `boss.group=<group>` (boss's own) or `boss-test.group=<group>` (created by the test).
///
/// Labels are matched exactly, so nothing of another group, and nothing unlabelled, is
/// touched. Returns a description of whatever could not be listed or removed.
pub(crate) fn remove_group_resources(group: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    let kinds: [(&[&str], &[&str]); 4] = [
        (&["ps", "--all", "--quiet"], &["rm", "--force", "--volumes"]),
        // boss's own volumes outlive their containers, so they go by label too.
        (&["volume", "ls", "--quiet"], &["volume", "rm", "--force"]),
        (&["network", "ls", "--quiet"], &["network", "rm"]),
        (&["image", "ls", "--quiet"], &["image", "rm", "--force"]),
    ];
    for (list, remove) in kinds {
        let ids = labelled_ids(list, group, &mut problems);
        if !ids.is_empty()
            && let Err(problem) = try_docker(remove.iter().copied().chain(ids.iter().map(String::as_str)))
        {
            problems.push(problem);
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// The ids that the `list` command prints for resources carrying either label of `group`.
fn labelled_ids(list: &[&str], group: &str, problems: &mut Vec<String>) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    // Docker combines several label filters with AND, so each label needs its own query.
    for label in [GROUP_LABEL, FOREIGN_LABEL] {
        let filter = format!("label={label}={group}");
        match try_docker(list.iter().copied().chain(["--filter", &filter])) {
            Ok(stdout) => ids.extend(stdout.split_whitespace().map(str::to_owned)),
            Err(problem) => problems.push(problem),
        }
    }
    ids
}
