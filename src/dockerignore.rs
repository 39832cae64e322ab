//! `.dockerignore` exactly as the docker CLI reads and applies it: a port of
//! `moby/patternmatcher` (`patternmatcher.go`: `New`, `Pattern.compile`, `Pattern.match`,
//! `Matches`, `MatchesOrParentMatches`, `MatchesUsingParentResults`) and of its reader
//! `ignorefile/ignorefile.go` (`ReadAll`). Pure; no I/O.
//!
//! Docker's rules are not gitignore's, nor a general glob library's: `*.log` matches only at the
//! context root, `**` has four match types, a pattern that matches a directory excludes
//! everything below it, `!` re-includes, the last matching line wins, `{a,b}` is literal, and
//! `[...]` is handed to a Go regular expression, so `[!x]` matches `!` or `x`. Any other reading
//! lets files into the build context that the user meant to keep out, so this follows the Go
//! source line by line rather than approximating it.

use regex::bytes::Regex;

use crate::error::PatternProblem;

/// Reads a `.dockerignore` into patterns, as `ignorefile.ReadAll` does: a UTF-8 byte-order mark
/// is dropped from the first line, a line whose first character is `#` is a comment (an
/// indented `#` is not), the rest is trimmed, a leading `!` is kept while the path after it is
/// cleaned like Go's `filepath.Clean`, and a leading `/` is removed.
pub(crate) fn read_ignore_file(bytes: &[u8]) -> Vec<String> {
    let mut patterns = Vec::new();
    // `bufio.Scanner` with `ScanLines` splits on `\n` and drops one `\r` before it.
    let mut lines: Vec<&[u8]> = bytes.split(|byte| *byte == b'\n').collect();
    if bytes.ends_with(b"\n") {
        lines.pop();
    }
    for (index, line) in lines.into_iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = if index == 0 { line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line) } else { line };
        // Go reads the file as bytes; a name that is not UTF-8 cannot be written in a pattern
        // that matches anything but itself, so a lossy reading changes nothing that matters.
        let line = String::from_utf8_lossy(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        patterns.push(if invert { format!("!{cleaned}") } else { cleaned });
    }
    patterns
}

/// Go's `path.Clean` (which `filepath.Clean` is on Unix): the shortest equivalent path,
/// with `.` and `x/..` elements removed and `..` kept only where it climbs above the start.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// An invalid line of a `.dockerignore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError {
    pub(crate) pattern: String,
    pub(crate) problem: PatternProblem,
}

/// How one pattern matches, decided by `compile`: most patterns become a regular expression,
/// but a pattern without wildcards is compared as a string, `dir/**` as a prefix and `**/x`
/// as a suffix. The four types give different answers on some paths (`**/dir` matches `dir`
/// itself), so they are kept rather than folded into regular expressions.
#[derive(Debug)]
enum MatchType {
    Exact,
    Prefix,
    Suffix,
    Regexp(Regex),
}

/// One pattern of a `.dockerignore`.
#[derive(Debug)]
pub(crate) struct Pattern {
    cleaned: String,
    /// How many `/`-separated elements the pattern has; the deprecated `Matches` compares
    /// that many leading elements of a path's parent.
    n_dirs: usize,
    exclusion: bool,
    match_type: MatchType,
}

/// Which patterns a directory matched, passed down to its entries so that a pattern that
/// matched the directory counts as matched below it (`patternmatcher.MatchInfo`).
#[derive(Debug, Clone, Default)]
pub(crate) struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// A list of patterns, in order (`patternmatcher.PatternMatcher`).
#[derive(Debug, Default)]
pub(crate) struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl PatternMatcher {
    /// Compiles `patterns` as `patternmatcher.New` does: each is trimmed and cleaned, a
    /// leading `!` makes it an exception, and its syntax is checked as Go's
    /// `filepath.Match` would. Go compiles each pattern on first use; compiling them all now
    /// reports a broken pattern before the build starts.
    pub(crate) fn new(patterns: &[String]) -> Result<PatternMatcher, PatternError> {
        let mut matcher = PatternMatcher::default();
        for raw in patterns {
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let error = |problem| PatternError { pattern: raw.clone(), problem };
            let mut cleaned = clean(trimmed);
            let exclusion = cleaned.starts_with('!');
            if exclusion {
                if cleaned.len() == 1 {
                    return Err(error(PatternProblem::LoneExclamation));
                }
                cleaned.remove(0);
                matcher.exclusions = true;
            }
            if !glob_syntax_is_valid(&cleaned) {
                return Err(error(PatternProblem::Syntax));
            }
            let match_type = compile(&cleaned).map_err(|reason| error(PatternProblem::Regex { reason }))?;
            let n_dirs = cleaned.split('/').count();
            matcher.patterns.push(Pattern { cleaned, n_dirs, exclusion, match_type });
        }
        Ok(matcher)
    }

    /// Whether any pattern is an exception (`!...`).
    pub(crate) fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// The exception patterns, cleaned and without their `!`.
    pub(crate) fn exceptions(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().filter(|pattern| pattern.exclusion).map(|pattern| pattern.cleaned.as_str())
    }

    /// `MatchesOrParentMatches`: whether `file` (a cleaned, `/`-separated relative path) is
    /// excluded, a pattern matching the file or any of its parent directories. The archiver
    /// uses the equivalent [`PatternMatcher::matches_using_parent_results`]; this form is what
    /// the matcher's own tests are written against.
    #[cfg(test)]
    fn matches_or_parent_matches(&self, file: &[u8]) -> bool {
        let parents = parent_prefixes(file);
        let mut matched = false;
        for pattern in &self.patterns {
            // An inclusion cannot change an excluded path, nor an exception an included one.
            if pattern.exclusion != matched {
                continue;
            }
            let hit = pattern.matches(file) || parents.iter().any(|parent| pattern.matches(parent));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// The deprecated `Matches`, which the docker CLI still uses to decide whether the
    /// Dockerfile and `.dockerignore` need an exception (`TrimBuildFilesFromExcludes`): it
    /// compares only the parent prefix with as many elements as the pattern has.
    pub(crate) fn matches_one_parent(&self, file: &[u8]) -> bool {
        let file = clean(&String::from_utf8_lossy(file));
        if file == "." {
            return false;
        }
        let file = file.as_bytes();
        let parent_dirs: Vec<&[u8]> = match file.iter().rposition(|byte| *byte == b'/') {
            Some(slash) => file[..slash].split(|byte| *byte == b'/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let mut hit = pattern.matches(file);
            if !hit && !parent_dirs.is_empty() && pattern.n_dirs <= parent_dirs.len() {
                hit = pattern.matches(&parent_dirs[..pattern.n_dirs].join(&b'/'));
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults`, which the archiver (`pkg/archive.TarWithOptions`) uses
    /// while walking: a pattern that matched the parent directory counts as matched without
    /// being tried again. Returns whether `file` is excluded and what to pass to its entries.
    pub(crate) fn matches_using_parent_results(&self, file: &[u8], parent: &MatchInfo) -> (bool, MatchInfo) {
        let parent_matched = &parent.parent_matched;
        let mut matched = false;
        let mut info = MatchInfo { parent_matched: vec![false; self.patterns.len()] };
        for (index, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent_matched.get(index).copied().unwrap_or(false);
            if !hit {
                if pattern.exclusion != matched {
                    continue;
                }
                hit = pattern.matches(file);
                // Without the parent's results, the parents are tried one by one.
                if !hit && parent_matched.is_empty() {
                    hit = parent_prefixes(file).iter().any(|parent| pattern.matches(parent));
                }
            }
            info.parent_matched[index] = hit;
            if hit {
                matched = !pattern.exclusion;
            }
        }
        (matched, info)
    }
}

impl Pattern {
    /// `Pattern.match`.
    fn matches(&self, path: &[u8]) -> bool {
        let cleaned = self.cleaned.as_bytes();
        match &self.match_type {
            MatchType::Exact => path == cleaned,
            // The pattern ends with `**`, which is dropped.
            MatchType::Prefix => path.starts_with(&cleaned[..cleaned.len() - 2]),
            MatchType::Suffix => {
                // The pattern starts with `**`, which is dropped; `**/foo` also matches `foo`.
                let suffix = &cleaned[2..];
                path.ends_with(suffix) || (suffix.first() == Some(&b'/') && path == &suffix[1..])
            }
            MatchType::Regexp(regex) => regex.is_match(path),
        }
    }
}

/// `a/b/c` → `a`, `a/b` (the parents of a path, shortest first), as Go builds them from
/// `filepath.Dir`.
fn parent_prefixes(file: &[u8]) -> Vec<&[u8]> {
    file.iter().enumerate().filter(|(_, byte)| **byte == b'/').map(|(index, _)| &file[..index]).collect()
}

/// `Pattern.compile` with `/` as the separator: decides the match type and, for
/// `MatchType::Regexp`, builds the same regular expression as Go. `regex`'s syntax differs
/// from Go's `regexp` inside a character class (`&&`, `~~` and a nested `[` are operators
/// there), so those characters are escaped within classes to keep Go's literal meaning.
fn compile(pattern: &str) -> Result<MatchType, String> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let mut regex = String::from("^");
    let mut detected = Detected::Exact;
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut first = true;
    while let Some(ch) = chars.next() {
        let at_start = std::mem::replace(&mut first, false);
        if ch == '*' {
            if chars.peek() == Some(&'*') {
                chars.next();
                // `**/` is read as `**`.
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    // A trailing `**` matches everything, as in .gitignore.
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        regex.push_str(".*");
                        detected = Detected::Regexp;
                    }
                } else {
                    // Any number of directories, including none.
                    regex.push_str("(.*/)?");
                    detected = Detected::Regexp;
                }
                if at_start {
                    detected = Detected::Suffix;
                }
            } else {
                regex.push_str("[^/]*");
                detected = Detected::Regexp;
            }
        } else if ch == '?' {
            regex.push_str("[^/]");
            detected = Detected::Regexp;
        } else if ".+()|{}$".contains(ch) {
            // Characters special to regular expressions but not to `filepath.Match`.
            regex.push('\\');
            regex.push(ch);
        } else if ch == '\\' {
            match chars.next() {
                Some(next) => {
                    // Go writes `\` and the character; for punctuation that is a literal in
                    // Go, which `regex::escape` spells portably (`\<` is a word boundary in
                    // `regex`). Letters keep their class meaning (`\d`), as in Go.
                    if next.is_ascii_alphanumeric() {
                        regex.push('\\');
                        regex.push(next);
                    } else {
                        regex.push_str(&regex::escape(&next.to_string()));
                    }
                    detected = Detected::Regexp;
                }
                // A trailing `\` is left alone, escaped (`filepath.Match` has refused it).
                None => regex.push_str("\\\\"),
            }
        } else if ch == '[' || ch == ']' {
            if ch == '[' && in_class {
                regex.push_str("\\[");
            } else {
                regex.push(ch);
                in_class = ch == '[';
            }
            detected = Detected::Regexp;
        } else if in_class && (ch == '&' || ch == '~') {
            regex.push('\\');
            regex.push(ch);
        } else {
            regex.push(ch);
        }
    }
    Ok(match detected {
        Detected::Exact => MatchType::Exact,
        Detected::Prefix => MatchType::Prefix,
        Detected::Suffix => MatchType::Suffix,
        Detected::Regexp => {
            regex.push('$');
            MatchType::Regexp(Regex::new(&regex).map_err(|error| error.to_string())?)
        }
    })
}

/// Whether Go's `filepath.Match` accepts `pattern`, which `patternmatcher.New` asks before
/// keeping a pattern: every `[` is closed, a class is not empty, a range has both ends, `-`
/// and `]` are escaped where they would be ambiguous, and `\` is followed by a character.
fn glob_syntax_is_valid(pattern: &str) -> bool {
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '[' => {
                if chars.peek() == Some(&'^') {
                    chars.next();
                }
                let mut n_ranges = 0;
                loop {
                    if chars.peek() == Some(&']') && n_ranges > 0 {
                        chars.next();
                        break;
                    }
                    if class_char(&mut chars).is_none() {
                        return false;
                    }
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        if class_char(&mut chars).is_none() {
                            return false;
                        }
                    }
                    n_ranges += 1;
                }
            }
            // The guard consumes the escaped character; only a `\` at the end is refused.
            '\\' if chars.next().is_none() => return false,
            _ => {}
        }
    }
    true
}

/// Go's `getEsc`: one possibly escaped character of a class, which must not be the last of the
/// pattern (the class would be unclosed).
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let mut ch = chars.next()?;
    if ch == '-' || ch == ']' {
        return None;
    }
    if ch == '\\' {
        ch = chars.next()?;
    }
    chars.peek()?;
    Some(ch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How a single pattern treats a path in `patternmatcher_test.go`'s `TestMatches`: `Fail`
    /// (no match), `Exact` (the path itself matches) or `Inexact` (only a parent matches).
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Expect {
        Fail,
        Exact,
        Inexact,
    }
    use Expect::{Exact, Fail, Inexact};

    fn matcher(patterns: &[&str]) -> PatternMatcher {
        let patterns: Vec<String> = patterns.iter().map(|pattern| (*pattern).to_string()).collect();
        PatternMatcher::new(&patterns).unwrap_or_else(|error| panic!("{patterns:?}: {error:?}"))
    }

    /// Whether only the path itself, without parents, matches (`MatchesExact`).
    fn matches_exact(matcher: &PatternMatcher, file: &str) -> bool {
        let mut matched = false;
        for pattern in &matcher.patterns {
            if pattern.exclusion == matched && pattern.matches(file.as_bytes()) {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults` fed with the results of each parent in turn, as the
    /// archiver's walk does.
    fn matches_walking(matcher: &PatternMatcher, file: &str) -> bool {
        let mut info = MatchInfo::default();
        for parent in parent_prefixes(file.as_bytes()) {
            info = matcher.matches_using_parent_results(parent, &info).1;
        }
        matcher.matches_using_parent_results(file.as_bytes(), &info).0
    }

    /// `TestMatches` from moby/patternmatcher's `patternmatcher_test.go`, every case, run
    /// through each way of matching as the Go test does.
    #[test]
    fn patternmatcher_test_matches_table() {
        let cases: &[(&str, &str, Expect)] = &[
            ("**", "file", Exact),
            ("**", "file/", Exact),
            ("**/", "file", Exact),
            ("**/", "file/", Exact),
            ("**", "/", Exact),
            ("**/", "/", Exact),
            ("**", "dir/file", Exact),
            ("**/", "dir/file", Exact),
            ("**", "dir/file/", Exact),
            ("**/", "dir/file/", Exact),
            ("**/**", "dir/file", Exact),
            ("**/**", "dir/file/", Exact),
            ("dir/**", "dir/file", Exact),
            ("dir/**", "dir/file/", Exact),
            ("dir/**", "dir/dir2/file", Exact),
            ("dir/**", "dir/dir2/file/", Exact),
            ("**/dir", "dir", Exact),
            ("**/dir", "dir/file", Inexact),
            ("**/dir2/*", "dir/dir2/file", Exact),
            ("**/dir2/*", "dir/dir2/file/", Inexact),
            ("**/dir2/**", "dir/dir2/dir3/file", Exact),
            ("**/dir2/**", "dir/dir2/dir3/file/", Exact),
            ("**file", "file", Exact),
            ("**file", "dir/file", Exact),
            ("**/file", "dir/file", Exact),
            ("**file", "dir/dir/file", Exact),
            ("**/file", "dir/dir/file", Exact),
            ("**/file*", "dir/dir/file", Exact),
            ("**/file*", "dir/dir/file.txt", Exact),
            ("**/file*txt", "dir/dir/file.txt", Exact),
            ("**/file*.txt", "dir/dir/file.txt", Exact),
            ("**/file*.txt*", "dir/dir/file.txt", Exact),
            ("**/**/*.txt", "dir/dir/file.txt", Exact),
            ("**/**/*.txt2", "dir/dir/file.txt", Fail),
            ("**/*.txt", "file.txt", Exact),
            ("**/**/*.txt", "file.txt", Exact),
            ("a**/*.txt", "a/file.txt", Exact),
            ("a**/*.txt", "a/dir/file.txt", Exact),
            ("a**/*.txt", "a/dir/dir/file.txt", Exact),
            ("a/*.txt", "a/dir/file.txt", Fail),
            ("a/*.txt", "a/file.txt", Exact),
            ("a/*.txt**", "a/file.txt", Exact),
            ("a[b-d]e", "ae", Fail),
            ("a[b-d]e", "ace", Exact),
            ("a[b-d]e", "aae", Fail),
            ("a[^b-d]e", "aze", Exact),
            (".*", ".foo", Exact),
            (".*", "foo", Fail),
            ("abc.def", "abcdef", Fail),
            ("abc.def", "abc.def", Exact),
            ("abc.def", "abcZdef", Fail),
            ("abc?def", "abcZdef", Exact),
            ("abc?def", "abcdef", Fail),
            ("**/foo/bar", "foo/bar", Exact),
            ("**/foo/bar", "dir/foo/bar", Exact),
            ("**/foo/bar", "dir/dir2/foo/bar", Exact),
            ("abc/**", "abc", Fail),
            ("abc/**", "abc/def", Exact),
            ("abc/**", "abc/def/ghi", Exact),
            ("**/.foo", ".foo", Exact),
            ("**/.foo", "bar.foo", Fail),
            ("a(b)c/def", "a(b)c/def", Exact),
            ("a(b)c/def", "a(b)c/xyz", Fail),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", Exact),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                Exact,
            ),
            ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", Exact),
            ("a\\\\", "a\\", Exact),
            ("a\\*b", "a*b", Exact),
        ];
        for &(pattern, text, expect) in cases {
            let matcher = matcher(&[pattern]);
            let case = format!("pattern {pattern:?} on {text:?}");
            assert_eq!(matches_exact(&matcher, text), expect == Exact, "exact: {case}");
            assert_eq!(matcher.matches_or_parent_matches(text.as_bytes()), expect != Fail, "or parent: {case}");
            assert_eq!(matches_walking(&matcher, text), expect != Fail, "walking: {case}");
            let (no_context, _) = matcher.matches_using_parent_results(text.as_bytes(), &MatchInfo::default());
            assert_eq!(no_context, expect != Fail, "no context: {case}");
        }

        let multi: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (&["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true),
            (
                &["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                false,
            ),
            (&["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false),
        ];
        for &(patterns, text, expected) in multi {
            let matcher = matcher(patterns);
            assert_eq!(matcher.matches_or_parent_matches(text.as_bytes()), expected, "{patterns:?} on {text:?}");
            assert_eq!(matches_walking(&matcher, text), expected, "walking {patterns:?} on {text:?}");
        }
    }

    /// `matchTests` from `patternmatcher_test.go` (Go's own `filepath.Match` cases), through
    /// the deprecated `Matches`: the match, or `None` for a pattern Go refuses.
    #[test]
    fn patternmatcher_test_match_table() {
        let cases: &[(&str, &str, Option<bool>)] = &[
            ("abc", "abc", Some(true)),
            ("*", "abc", Some(true)),
            ("*c", "abc", Some(true)),
            ("a*", "a", Some(true)),
            ("a*", "abc", Some(true)),
            ("a*", "ab/c", Some(true)),
            ("a*/b", "abc/b", Some(true)),
            ("a*/b", "a/c/b", Some(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Some(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Some(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Some(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Some(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Some(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Some(false)),
            ("ab[c]", "abc", Some(true)),
            ("ab[b-d]", "abc", Some(true)),
            ("ab[e-g]", "abc", Some(false)),
            ("ab[^c]", "abc", Some(false)),
            ("ab[^b-d]", "abc", Some(false)),
            ("ab[^e-g]", "abc", Some(true)),
            ("a\\*b", "a*b", Some(true)),
            ("a\\*b", "ab", Some(false)),
            ("a?b", "a☺b", Some(true)),
            ("a[^a]b", "a☺b", Some(true)),
            ("a???b", "a☺b", Some(false)),
            ("a[^a][^a][^a]b", "a☺b", Some(false)),
            ("[a-ζ]*", "α", Some(true)),
            ("*[a-ζ]", "A", Some(false)),
            ("a?b", "a/b", Some(false)),
            ("a*b", "a/b", Some(false)),
            ("[\\]a]", "]", Some(true)),
            ("[\\-]", "-", Some(true)),
            ("[x\\-]", "x", Some(true)),
            ("[x\\-]", "-", Some(true)),
            ("[x\\-]", "z", Some(false)),
            ("[\\-x]", "x", Some(true)),
            ("[\\-x]", "-", Some(true)),
            ("[\\-x]", "a", Some(false)),
            ("[]a]", "]", None),
            ("[-]", "-", None),
            ("[x-]", "x", None),
            ("[x-]", "-", None),
            ("[x-]", "z", None),
            ("[-x]", "x", None),
            ("[-x]", "-", None),
            ("[-x]", "a", None),
            ("\\", "a", None),
            ("[a-b-c]", "a", None),
            ("[", "a", None),
            ("[^", "a", None),
            ("[^bc", "a", None),
            ("a[", "a", None),
            ("a[", "ab", None),
            ("*x", "xxx", Some(true)),
        ];
        for &(pattern, text, expected) in cases {
            let result =
                PatternMatcher::new(&[pattern.to_string()]).map(|matcher| matcher.matches_one_parent(text.as_bytes()));
            assert_eq!(result.ok(), expected, "pattern {pattern:?} on {text:?}");
        }
    }

    /// The readings the issue names, where a glob library or a hand-written cleaner let files
    /// through that Docker keeps out (or the reverse).
    #[test]
    fn docker_specific_readings() {
        let excluded = |patterns: &str, path: &str| {
            let patterns = read_ignore_file(patterns.as_bytes());
            PatternMatcher::new(&patterns).unwrap().matches_or_parent_matches(path.as_bytes())
        };
        assert!(excluded("sub/../secret.txt", "secret.txt"), "cleaned like filepath.Clean");
        assert!(excluded("{a,b}.txt", "{a,b}.txt") && !excluded("{a,b}.txt", "a.txt"), "no brace alternation");
        assert!(excluded("[!x].cfg", "x.cfg") && excluded("[!x].cfg", "!.cfg"), "[!x] is `!` or `x`");
        assert!(!excluded("[!x].cfg", "y.cfg"), "[!x] is not a negation");
        assert!(excluded("\u{feff}bom.txt", "bom.txt"), "the BOM is stripped");
        assert!(excluded("a\n\u{feff}b", "\u{feff}b"), "only on the first line");
        assert!(excluded(" # not a comment", "# not a comment"), "only a leading `#` starts a comment");
        assert!(!excluded("# comment", "# comment"));
        assert!(excluded("/secret\r\n", "secret") && !excluded("/secret", "a/secret"));
        assert!(excluded("*.log", "a.log") && !excluded("*.log", "sub/a.log"));
        assert!(excluded("target/\n!target/keep.txt", "target/x.o"));
        assert!(!excluded("target/\n!target/keep.txt", "target/keep.txt"));
        assert!(excluded("a[&&b]", "a&") && excluded("a[x~~]", "a~"), "`&&` and `~~` are literal in classes");
    }

    #[test]
    fn ignorefile_test_read_all() {
        let content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
        assert_eq!(
            read_ignore_file(content.as_bytes()),
            ["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!"]
        );
        let error = PatternMatcher::new(&read_ignore_file(b"!\n")).unwrap_err();
        assert_eq!(error.problem, PatternProblem::LoneExclamation);
    }

    #[test]
    fn clean_is_go_path_clean() {
        for (path, cleaned) in [
            ("", "."),
            ("a/b/../c", "a/c"),
            ("./a//b/", "a/b"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("a/..", "."),
            ("!sub/../x", "x"),
            ("/", "/"),
        ] {
            assert_eq!(clean(path), cleaned, "{path:?}");
        }
    }
}
