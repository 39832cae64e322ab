//! Compose's variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+other}`, `${VAR+other}`, `$$`) against the shell's
//! environment and a `.env` file, and the `.env` file format. Pure; the caller reads files.

use std::collections::BTreeMap;

use crate::error::{DotenvProblem, VariableProblem};

/// The variables a compose file is interpolated with: the shell's, then a `.env` file's for
/// the names the shell does not set (compose's precedence).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Variables {
    values: BTreeMap<String, String>,
}

/// Names only: the values may be secrets.
impl std::fmt::Debug for Variables {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_set().entries(self.values.keys()).finish()
    }
}

impl Variables {
    pub(crate) fn new(values: impl IntoIterator<Item = (String, String)>) -> Variables {
        Variables { values: values.into_iter().collect() }
    }

    /// The process's environment (names and values that are not UTF-8 are left out).
    pub(crate) fn from_process() -> Variables {
        Variables::new(
            std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?))),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Adds `entries` for the names not set yet.
    pub(crate) fn with_defaults(mut self, entries: impl IntoIterator<Item = (String, String)>) -> Variables {
        for (name, value) in entries {
            self.values.entry(name).or_insert(value);
        }
        self
    }
}

/// Why a text cannot be interpolated; `offset` is the character at which the `$` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubstitutionError {
    pub(crate) problem: VariableProblem,
    pub(crate) offset: usize,
}

/// `${A:-${B:-...}}` may nest this deep.
pub(crate) const NESTING_LIMIT: usize = 16;

/// The interpolated text, and each variable that was unset and had no default (with the
/// character offset of its `$`), which compose replaces by an empty string with a warning.
pub(crate) fn substitute(
    text: &str,
    variables: &Variables,
) -> Result<(String, Vec<(String, usize)>), SubstitutionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut unset = Vec::new();
    let out = substitute_chars(&chars, 0, variables, &mut unset, 0)?;
    Ok((out, unset))
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

fn substitute_chars(
    chars: &[char],
    base: usize,
    variables: &Variables,
    unset: &mut Vec<(String, usize)>,
    depth: usize,
) -> Result<String, SubstitutionError> {
    if depth > NESTING_LIMIT {
        return Err(SubstitutionError { problem: VariableProblem::TooDeep { limit: NESTING_LIMIT }, offset: base });
    }
    let mut out = String::with_capacity(chars.len());
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c != '$' {
            out.push(c);
            index += 1;
            continue;
        }
        let offset = base + index;
        match chars.get(index + 1) {
            Some('$') => {
                out.push('$');
                index += 2;
            }
            Some(&next) if is_name_start(next) => {
                let end = (index + 1..chars.len()).find(|at| !is_name_char(chars[*at])).unwrap_or(chars.len());
                let name: String = chars[index + 1..end].iter().collect();
                match variables.get(&name) {
                    Some(value) => out.push_str(value),
                    None => unset.push((name, offset)),
                }
                index = end;
            }
            Some('{') => {
                let close = matching_brace(chars, index + 2)
                    .ok_or(SubstitutionError { problem: VariableProblem::Unclosed, offset })?;
                let inner = &chars[index + 2..close];
                out.push_str(&braced(inner, base + index + 2, offset, variables, unset, depth)?);
                index = close + 1;
            }
            _ => return Err(SubstitutionError { problem: VariableProblem::LoneDollar, offset }),
        }
    }
    Ok(out)
}

/// The index of the `}` closing a `${` whose content starts at `start`, skipping nested ones.
fn matching_brace(chars: &[char], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut index = start;
    while index < chars.len() {
        match chars[index] {
            '$' if chars.get(index + 1) == Some(&'$') => index += 1,
            '$' if chars.get(index + 1) == Some(&'{') => {
                depth += 1;
                index += 1;
            }
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
        index += 1;
    }
    None
}

/// The value of `${inner}`; `inner_base` is where `inner` starts, `offset` where its `$` is.
fn braced(
    inner: &[char],
    inner_base: usize,
    offset: usize,
    variables: &Variables,
    unset: &mut Vec<(String, usize)>,
    depth: usize,
) -> Result<String, SubstitutionError> {
    let bad = || SubstitutionError { problem: VariableProblem::BadBraced { text: inner.iter().collect() }, offset };
    let name_end = inner.iter().position(|c| !is_name_char(*c)).unwrap_or(inner.len());
    if name_end == 0 || !is_name_start(inner[0]) {
        return Err(bad());
    }
    let name: String = inner[..name_end].iter().collect();
    let value = variables.get(&name);
    let rest = &inner[name_end..];
    if rest.is_empty() {
        return Ok(match value {
            Some(value) => value.to_string(),
            None => {
                unset.push((name, offset));
                String::new()
            }
        });
    }
    let (colon, operator, argument_start) = match rest {
        [':', operator, ..] => (true, *operator, 2),
        [operator, ..] => (false, *operator, 1),
        [] => unreachable!("`rest` is not empty"),
    };
    let argument = &rest[argument_start..];
    let argument_base = inner_base + name_end + argument_start;
    // `:` makes an empty value count as unset.
    let set = value.filter(|value| !colon || !value.is_empty());
    match operator {
        '-' => match set {
            Some(value) => Ok(value.to_string()),
            None => substitute_chars(argument, argument_base, variables, unset, depth + 1),
        },
        '+' => match set {
            Some(_) => substitute_chars(argument, argument_base, variables, unset, depth + 1),
            None => Ok(String::new()),
        },
        '?' => match set {
            Some(value) => Ok(value.to_string()),
            None => Err(SubstitutionError {
                problem: VariableProblem::Required {
                    name,
                    message: substitute_chars(argument, argument_base, variables, unset, depth + 1)?,
                },
                offset,
            }),
        },
        _ => Err(bad()),
    }
}

/// A line of a `.env` file that cannot be read; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DotenvError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) problem: DotenvProblem,
}

/// Reads a `.env` file as compose does: `NAME=value` lines, `export ` allowed before the
/// name, `#` comments (after a space in unquoted values), single quotes taken literally,
/// double quotes with `\n`, `\t`, `\"` and `\\` escapes, and `${VAR}` in unquoted and
/// double-quoted values resolved against `variables` and the file's earlier lines.
pub(crate) fn parse_dotenv(text: &str, variables: &Variables) -> Result<Vec<(String, String)>, DotenvError> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim_start();
        let indent = raw.chars().count() - trimmed.chars().count();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (trimmed, indent) = match trimmed.strip_prefix("export ") {
            Some(rest) => (rest.trim_start(), indent + trimmed.chars().count() - rest.trim_start().chars().count()),
            None => (trimmed, indent),
        };
        let error = |column: usize, problem| DotenvError { line, column, problem };
        let Some((name, value)) = trimmed.split_once('=') else {
            return Err(error(indent + 1, DotenvProblem::NoEquals));
        };
        let name = name.trim_end();
        if name.is_empty() || !name.starts_with(is_name_start) || !name.chars().all(is_name_char) {
            return Err(error(indent + 1, DotenvProblem::BadName { name: name.to_string() }));
        }
        let value_column = indent + trimmed.chars().count() - value.chars().count() + 1;
        let value = value.trim_start();
        let known = Variables::new(entries.iter().cloned()).with_defaults(variables.values.clone());
        let interpolate = |text: &str, column: usize| {
            substitute(text, &known)
                .map(|(value, _)| value)
                .map_err(|failure| error(column + failure.offset, DotenvProblem::Variable(failure.problem)))
        };
        let value = if let Some(rest) = value.strip_prefix('\'') {
            let end = rest.find('\'').ok_or_else(|| error(value_column, DotenvProblem::UnclosedQuote))?;
            rest[..end].to_string()
        } else if let Some(rest) = value.strip_prefix('"') {
            let mut unescaped = String::new();
            let mut chars = rest.chars();
            loop {
                match chars.next() {
                    None => return Err(error(value_column, DotenvProblem::UnclosedQuote)),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => unescaped.push('\n'),
                        Some('t') => unescaped.push('\t'),
                        Some(other @ ('"' | '\\')) => unescaped.push(other),
                        Some(other) => {
                            unescaped.push('\\');
                            unescaped.push(other);
                        }
                        None => return Err(error(value_column, DotenvProblem::UnclosedQuote)),
                    },
                    Some(other) => unescaped.push(other),
                }
            }
            interpolate(&unescaped, value_column + 1)?
        } else {
            let value = match value.find(" #") {
                Some(comment) => &value[..comment],
                None => value,
            };
            interpolate(value.trim_end(), value_column)?
        };
        entries.retain(|(known, _)| known != name);
        entries.push((name.to_string(), value));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables() -> Variables {
        Variables::new([("TAG".to_string(), "1.2".to_string()), ("EMPTY".to_string(), String::new())])
    }

    fn check(text: &str) -> String {
        substitute(text, &variables()).unwrap().0
    }

    fn problem(text: &str) -> (VariableProblem, usize) {
        let error = substitute(text, &variables()).unwrap_err();
        (error.problem, error.offset)
    }

    #[test]
    fn every_form_of_compose_is_substituted() {
        assert_eq!(check("app:$TAG"), "app:1.2");
        assert_eq!(check("app:${TAG}-x"), "app:1.2-x");
        assert_eq!(check("${EMPTY:-d} ${EMPTY-d} ${NONE-d} ${NONE:-d}"), "d  d d");
        assert_eq!(check("${TAG:+on} ${EMPTY:+on} ${EMPTY+on} ${NONE+on}."), "on  on .");
        assert_eq!(check("${EMPTY?x}|${TAG:?x}"), "|1.2");
        assert_eq!(check("cost: $$5 $${TAG}"), "cost: $5 ${TAG}");
        assert_eq!(check("${NONE:-${TAG}}/${NONE:-${ALSO:-deep}}"), "1.2/deep");
        assert_eq!(check("${NONE:-a}b}"), "ab}");
    }

    #[test]
    fn unset_variables_without_default_are_empty_and_reported() {
        assert_eq!(
            substitute("a$NONE ${OTHER}", &variables()).unwrap(),
            ("a ".into(), vec![("NONE".into(), 1), ("OTHER".into(), 7)])
        );
    }

    #[test]
    fn mistakes_name_the_offset_of_their_dollar() {
        assert_eq!(problem("ab ${TAG"), (VariableProblem::Unclosed, 3));
        assert_eq!(problem("é$ x"), (VariableProblem::LoneDollar, 1));
        assert_eq!(problem("$1"), (VariableProblem::LoneDollar, 0));
        assert_eq!(problem("${1A}"), (VariableProblem::BadBraced { text: "1A".into() }, 0));
        assert_eq!(problem("${TAG/x/y}"), (VariableProblem::BadBraced { text: "TAG/x/y".into() }, 0));
        assert_eq!(
            problem("x${EMPTY:?set EMPTY to ${TAG}}"),
            (VariableProblem::Required { name: "EMPTY".into(), message: "set EMPTY to 1.2".into() }, 1)
        );
        assert_eq!(problem("${NONE?}"), (VariableProblem::Required { name: "NONE".into(), message: String::new() }, 0));
        let deep = "${A:-".repeat(NESTING_LIMIT + 2) + "}".repeat(NESTING_LIMIT + 2).as_str();
        assert_eq!(problem(&deep).0, VariableProblem::TooDeep { limit: NESTING_LIMIT });
    }

    #[test]
    fn dotenv_files_are_read_as_compose_reads_them() {
        let text =
            "# comment\n\nexport A=1\nB = two words # note\nC='${A} lit'\nD=\"q\\n${A}\"\nE=${B:-x}-${TAG}\nA=again\n";
        assert_eq!(
            parse_dotenv(text, &variables()).unwrap(),
            [("B", "two words"), ("C", "${A} lit"), ("D", "q\n1"), ("E", "two words-1.2"), ("A", "again")]
                .map(|(name, value)| (name.to_string(), value.to_string()))
        );
    }

    #[test]
    fn dotenv_mistakes_name_line_and_column() {
        let error = |text| parse_dotenv(text, &Variables::default()).unwrap_err();
        assert_eq!(error("A=1\n  JUST_A_NAME\n"), DotenvError { line: 2, column: 3, problem: DotenvProblem::NoEquals });
        assert_eq!(
            error("1A=x"),
            DotenvError { line: 1, column: 1, problem: DotenvProblem::BadName { name: "1A".into() } }
        );
        assert_eq!(error("A=\"open"), DotenvError { line: 1, column: 3, problem: DotenvProblem::UnclosedQuote });
        assert_eq!(
            error("A=ok ${B"),
            DotenvError { line: 1, column: 6, problem: DotenvProblem::Variable(VariableProblem::Unclosed) }
        );
    }
}
