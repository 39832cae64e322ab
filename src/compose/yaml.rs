//! A YAML document as a tree whose every key and value knows its line and column, built from
//! saphyr-parser's events: `*alias`es are replaced by a copy of their anchored node and `<<`
//! merge keys are resolved (YAML 1.1's merge, which compose files rely on). Pure; no I/O.
//!
//! Built without recursion (a stack of open collections), with a depth limit and a budget on
//! the nodes that aliases copy, so hostile input (deep nesting, "billion laughs") is an error,
//! not a crash.

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};

use crate::error::YamlProblem;

/// Where a node starts: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Position {
    fn of(span: &YamlSpan) -> Position {
        Position { line: span.start.line(), column: span.start.col() + 1 }
    }
}

/// A node and where it is written (for a node copied by an alias: where its anchor is).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) at: Position,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    /// Entries in the order written, merged entries after the explicit ones.
    Mapping(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    /// Plain scalars may be null, booleans or numbers; quoted and block ones are strings.
    pub(crate) plain: bool,
    /// Where the text starts relative to `at` when it is written on one line exactly as
    /// `text` (a plain scalar, or a quoted one without escapes): lets an error inside the
    /// text point at its column. `None` when the source does not map one to one.
    pub(crate) offset: Option<usize>,
}

impl Node {
    /// `null`, `~` or nothing, written plain.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(scalar) if scalar.plain && matches!(scalar.text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What kind of node this is, for "expected a ..., got a ..." messages.
    pub(crate) fn kind(&self) -> &'static str {
        match &self.value {
            _ if self.is_null() => "null",
            Value::Scalar(_) => "scalar",
            Value::Sequence(_) => "list",
            Value::Mapping(_) => "mapping",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub(crate) problem: YamlProblem,
    pub(crate) at: Position,
}

/// Nesting deeper than this is refused; compose files nest about six levels.
pub(crate) const DEPTH_LIMIT: usize = 128;
/// Aliases may copy at most this many nodes in all.
pub(crate) const ALIAS_NODE_LIMIT: usize = 100_000;

enum Open {
    Sequence { items: Vec<Node>, at: Position, anchor: usize },
    Mapping { entries: Vec<Node>, at: Position, anchor: usize },
}

/// Parses the one document of `text`; an empty text is a null node at 1:1.
pub(crate) fn parse(text: &str) -> Result<Node, YamlError> {
    let mut anchors: Vec<Option<Node>> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut copied = 0usize;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| YamlError {
            problem: YamlProblem::Syntax(error.info().to_string()),
            at: Position { line: error.marker().line(), column: error.marker().col() + 1 },
        })?;
        let at = Position::of(&span);
        let is_sequence = matches!(event, Event::SequenceStart(..));
        let (node, anchor) = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                if root.is_some() {
                    return Err(YamlError { problem: YamlProblem::MoreThanOneDocument, at });
                }
                continue;
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                check_tag(tag.as_deref(), at)?;
                if stack.len() >= DEPTH_LIMIT {
                    return Err(YamlError { problem: YamlProblem::TooDeep { limit: DEPTH_LIMIT }, at });
                }
                stack.push(if is_sequence {
                    Open::Sequence { items: Vec::new(), at, anchor }
                } else {
                    Open::Mapping { entries: Vec::new(), at, anchor }
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Sequence { items, at, anchor }) => (Node { value: Value::Sequence(items), at }, anchor),
                _ => unreachable!("the parser ends only the sequence it started"),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Mapping { entries, at, anchor }) => {
                    (Node { value: Value::Mapping(merge(entries)?), at }, anchor)
                }
                _ => unreachable!("the parser ends only the mapping it started"),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let is_str = check_tag(tag.as_deref(), at)?;
                let plain = style == ScalarStyle::Plain && !is_str;
                // A scalar folded from several lines is not written as its text.
                let one_line = span.start.line() == span.end.line();
                let offset = match style {
                    ScalarStyle::Plain if one_line => Some(0),
                    ScalarStyle::SingleQuoted if one_line && !text.contains('\'') => Some(1),
                    ScalarStyle::DoubleQuoted if one_line && is_written(text.as_ref(), &span) => Some(1),
                    _ => None,
                };
                (Node { value: Value::Scalar(Scalar { text: text.into_owned(), plain, offset }), at }, anchor)
            }
            Event::Alias(id) => {
                // The parser refuses unknown anchors, so an anchor not recorded yet is one
                // whose node is still open: the alias is inside it.
                let Some(node) = anchors.get(id).cloned().flatten() else {
                    return Err(YamlError { problem: YamlProblem::AliasInsideAnchor, at });
                };
                copied += count_nodes(&node);
                if copied > ALIAS_NODE_LIMIT {
                    return Err(YamlError {
                        problem: YamlProblem::TooManyAliasedNodes { limit: ALIAS_NODE_LIMIT },
                        at,
                    });
                }
                (node, 0)
            }
        };
        if anchor > 0 {
            if anchors.len() <= anchor {
                anchors.resize(anchor + 1, None);
            }
            anchors[anchor] = Some(node.clone());
        }
        match stack.last_mut() {
            Some(Open::Sequence { items, .. }) => items.push(node),
            Some(Open::Mapping { entries, .. }) => entries.push(node),
            None => root = Some(node),
        }
    }
    Ok(root.unwrap_or(Node {
        value: Value::Scalar(Scalar { text: String::new(), plain: true, offset: None }),
        at: Position { line: 1, column: 1 },
    }))
}

/// A double-quoted scalar's span is its quotes plus its text only when nothing was escaped.
fn is_written(text: &str, span: &YamlSpan) -> bool {
    span.len() == text.chars().count() + 2
}

/// Whether `tag` is `!!str`; refuses tags other than YAML's own.
fn check_tag(tag: Option<&saphyr_parser::Tag>, at: Position) -> Result<bool, YamlError> {
    match tag {
        None => Ok(false),
        Some(tag) if tag.is_yaml_core_schema() => Ok(tag.suffix == "str"),
        Some(tag) => {
            Err(YamlError { problem: YamlProblem::UnsupportedTag { tag: format!("{}{}", tag.handle, tag.suffix) }, at })
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    let mut count = 0;
    let mut pending = vec![node];
    while let Some(node) = pending.pop() {
        count += 1;
        match &node.value {
            Value::Scalar(_) => {}
            Value::Sequence(items) => pending.extend(items),
            Value::Mapping(entries) => pending.extend(entries.iter().flat_map(|(key, value)| [key, value])),
        }
    }
    count
}

/// The text of a scalar key, for comparing keys.
fn key_text(key: &Node) -> Result<&str, YamlError> {
    match &key.value {
        Value::Scalar(scalar) => Ok(&scalar.text),
        _ => Err(YamlError { problem: YamlProblem::ComplexKey, at: key.at }),
    }
}

fn is_merge_key(key: &Node) -> bool {
    matches!(&key.value, Value::Scalar(scalar) if scalar.plain && scalar.text == "<<")
}

/// Pairs a mapping's keys and values, refuses duplicate keys and resolves `<<`: explicit
/// keys win over merged ones, and of several merged mappings the first that has a key wins.
fn merge(flat: Vec<Node>) -> Result<Vec<(Node, Node)>, YamlError> {
    let mut explicit: Vec<(Node, Node)> = Vec::with_capacity(flat.len() / 2);
    let mut merged: Vec<(Node, Node)> = Vec::new();
    let mut flat = flat.into_iter();
    while let (Some(key), Some(value)) = (flat.next(), flat.next()) {
        if is_merge_key(&key) {
            let sources = match value.value {
                Value::Mapping(entries) => vec![entries],
                Value::Sequence(items) => items
                    .into_iter()
                    .map(|item| match item.value {
                        Value::Mapping(entries) => Ok(entries),
                        _ => Err(YamlError { problem: YamlProblem::BadMerge, at: item.at }),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(YamlError { problem: YamlProblem::BadMerge, at: value.at }),
            };
            merged.extend(sources.into_iter().flatten());
            continue;
        }
        let text = key_text(&key)?;
        if let Some((first, _)) = explicit.iter().find(|(first, _)| key_text(first).is_ok_and(|first| first == text)) {
            return Err(YamlError {
                problem: YamlProblem::DuplicateKey {
                    key: text.to_string(),
                    first_line: first.at.line,
                    first_column: first.at.column,
                },
                at: key.at,
            });
        }
        explicit.push((key, value));
    }
    for (key, value) in merged {
        let text = key_text(&key)?;
        if !explicit.iter().any(|(other, _)| key_text(other).is_ok_and(|other| other == text)) {
            explicit.push((key, value));
        }
    }
    Ok(explicit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(node: &Node) -> Vec<(String, String, usize, usize)> {
        let Value::Mapping(entries) = &node.value else { panic!("not a mapping: {node:?}") };
        entries
            .iter()
            .map(|(key, value)| {
                let Value::Scalar(key_scalar) = &key.value else { panic!() };
                let shown = match &value.value {
                    Value::Scalar(scalar) => scalar.text.clone(),
                    Value::Sequence(items) => format!("[{}]", items.len()),
                    Value::Mapping(entries) => format!("{{{}}}", entries.len()),
                };
                (key_scalar.text.clone(), shown, value.at.line, value.at.column)
            })
            .collect()
    }

    #[test]
    fn every_key_and_value_has_its_line_and_column() {
        let root = parse("a: 1\nb:\n  - x\n  - 'y'\nc: {d: 2}\n").unwrap();
        assert_eq!(
            keys(&root),
            [("a".into(), "1".into(), 1, 4), ("b".into(), "[2]".into(), 3, 3), ("c".into(), "{1}".into(), 5, 4)]
        );
        let Value::Mapping(entries) = &root.value else { panic!() };
        assert_eq!(entries[1].0.at, Position { line: 2, column: 1 });
        let Value::Sequence(items) = &entries[1].1.value else { panic!() };
        assert_eq!(items[1].at, Position { line: 4, column: 5 });
        assert_eq!(items[1].value, Value::Scalar(Scalar { text: "y".into(), plain: false, offset: Some(1) }));
    }

    #[test]
    fn aliases_copy_their_anchor_and_merge_keys_let_explicit_keys_win() {
        let text = "base: &base {image: a, user: u}\nmore: &more {user: m, init: true}\nsvc:\n  <<: [*base, *more]\n  image: b\n";
        let root = parse(text).unwrap();
        let Value::Mapping(entries) = &root.value else { panic!() };
        assert_eq!(
            keys(&entries[2].1),
            [
                ("image".into(), "b".into(), 5, 10),
                ("user".into(), "u".into(), 1, 30),
                ("init".into(), "true".into(), 2, 29)
            ]
        );
    }

    #[test]
    fn duplicate_keys_name_the_first() {
        let error = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            error,
            YamlError {
                problem: YamlProblem::DuplicateKey { key: "a".into(), first_line: 1, first_column: 1 },
                at: Position { line: 3, column: 1 }
            }
        );
    }

    #[test]
    fn hostile_documents_are_refused() {
        let deep = "[".repeat(DEPTH_LIMIT + 1);
        assert!(matches!(parse(&deep).unwrap_err().problem, YamlProblem::TooDeep { .. }));
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, previous) in ["b", "c", "d", "e", "f", "g"].iter().zip(["a", "b", "c", "d", "e", "f"]) {
            laughs += &format!(
                "{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
            );
        }
        assert!(matches!(parse(&laughs).unwrap_err().problem, YamlProblem::TooManyAliasedNodes { .. }));
        assert!(
            matches!(parse("a: !reset x\n").unwrap_err().problem, YamlProblem::UnsupportedTag { tag } if tag == "!reset")
        );
        assert!(matches!(parse("a: 1\n---\nb: 2\n").unwrap_err().problem, YamlProblem::MoreThanOneDocument));
        assert!(matches!(parse("<<: 1\n").unwrap_err().problem, YamlProblem::BadMerge));
        assert!(matches!(parse("a: *nothing\n").unwrap_err().problem, YamlProblem::Syntax(_)));
        assert!(matches!(parse("a: &a [1, *a]\n").unwrap_err().problem, YamlProblem::AliasInsideAnchor));
        assert!(matches!(parse("a: &a {b: *a}\n").unwrap_err().problem, YamlProblem::AliasInsideAnchor));
    }

    #[test]
    fn str_tags_and_quotes_are_strings_and_empty_is_null() {
        let root = parse("a: !!str 1\nb:\nc: '~'\n").unwrap();
        let Value::Mapping(entries) = &root.value else { panic!() };
        assert_eq!([&entries[0].1, &entries[1].1, &entries[2].1].map(Node::is_null), [false, true, false]);
        assert!(matches!(&entries[0].1.value, Value::Scalar(scalar) if !scalar.plain));
        assert!(parse("").unwrap().is_null());
    }
}
