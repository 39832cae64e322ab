//! `.env` files as docker compose reads them (`env_file` fields and `--env-file`): `KEY=VALUE`
//! lines, `#` comments, an optional `export ` prefix, and single-quoted (literal),
//! double-quoted (with `\n`, `\t`, `\"` and `\\` escapes, may span lines) or bare values (trimmed,
//! a ` #` starts a comment). Values are taken literally: no `${VAR}` substitution. Pure; the
//! caller reads the file.

/// Why a `.env` text could not be read; never holds a value (it may be a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DotenvProblem {
    /// Line `line` is not `KEY=VALUE` (nor a comment or blank).
    NotAnAssignment { line: usize },
    /// The name on line `line` cannot be an environment variable's.
    BadName { line: usize },
    /// The quote opened on line `line` is never closed.
    Unclosed { line: usize },
}

/// The variables of a `.env` text, in the order they appear; a name given twice keeps its last
/// value, in its first place.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, DotenvProblem> {
    let mut variables: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let number = index + 1;
        let line = lines[index].trim_start();
        index += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((name, rest)) = line.split_once('=') else {
            return Err(DotenvProblem::NotAnAssignment { line: number });
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) || crate::service::env_name_problem(name).is_some() {
            return Err(DotenvProblem::BadName { line: number });
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some('\'') => match rest[1..].find('\'') {
                Some(end) => rest[1..1 + end].to_string(),
                None => return Err(DotenvProblem::Unclosed { line: number }),
            },
            Some('"') => {
                // A double-quoted value may go on over the next lines, until its closing quote.
                let mut raw = rest[1..].to_string();
                loop {
                    if let Some(value) = double_quoted(&raw) {
                        break value;
                    }
                    let Some(next) = lines.get(index) else { return Err(DotenvProblem::Unclosed { line: number }) };
                    raw.push('\n');
                    raw.push_str(next);
                    index += 1;
                }
            }
            _ => {
                let value = match rest.find(" #").or_else(|| rest.find("\t#")) {
                    Some(comment) => &rest[..comment],
                    None => rest,
                };
                value.trim_end().to_string()
            }
        };
        match variables.iter_mut().find(|(known, _)| known == name) {
            Some(entry) => entry.1 = value,
            None => variables.push((name.to_string(), value)),
        }
    }
    Ok(variables)
}

/// The value of a double-quoted text up to its closing quote, escapes resolved; `None` when the
/// quote is not closed in `raw`.
fn double_quoted(raw: &str) -> Option<String> {
    let mut value = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                other @ ('"' | '\\' | '$') => value.push(other),
                other => {
                    value.push('\\');
                    value.push(other);
                }
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn reads_compose_env_file_syntax() {
        let text = r#"
# a comment
PLAIN=value
  SPACED = padded value   # a comment after it
export EXPORTED=1
HASH=a#b
SINGLE='literal \n $HOME # not a comment'
DOUBLE="line one\nline \"two\""
EMPTY=
MULTI="first
second"
EQUALS=a=b
"#;
        assert_eq!(
            pairs(text),
            [
                pair("PLAIN", "value"),
                pair("SPACED", "padded value"),
                pair("EXPORTED", "1"),
                pair("HASH", "a#b"),
                pair("SINGLE", "literal \\n $HOME # not a comment"),
                pair("DOUBLE", "line one\nline \"two\""),
                pair("EMPTY", ""),
                pair("MULTI", "first\nsecond"),
                pair("EQUALS", "a=b"),
            ]
        );
    }

    #[test]
    fn a_name_given_twice_keeps_its_last_value() {
        assert_eq!(pairs("A=1\nB=2\nA=3"), [pair("A", "3"), pair("B", "2")]);
    }

    #[test]
    fn mistakes_name_the_line_never_the_value() {
        assert_eq!(parse("A=1\nsecret-without-equals"), Err(DotenvProblem::NotAnAssignment { line: 2 }));
        assert_eq!(parse("BAD NAME=1"), Err(DotenvProblem::BadName { line: 1 }));
        assert_eq!(parse("=1"), Err(DotenvProblem::BadName { line: 1 }));
        assert_eq!(parse("\nA='open"), Err(DotenvProblem::Unclosed { line: 2 }));
        assert_eq!(parse("A=\"open\nstill open"), Err(DotenvProblem::Unclosed { line: 1 }));
    }
}
