//! Small helpers that make messages read well: "did you mean", ticked lists, counted nouns.

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    if let Some(same) = candidates.iter().find(|candidate| candidate.eq_ignore_ascii_case(word) && **candidate != word)
    {
        return Some(same);
    }
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3) && *distance > 0)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// "`a`", "`a` and `b`", "`a`, `b`, and `c`".
pub(crate) fn and_ticked<S: AsRef<str>>(items: &[S]) -> String {
    let ticked: Vec<String> = items.iter().map(|item| format!("`{}`", item.as_ref())).collect();
    match ticked.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [first, second] => format!("{first} and {second}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    }
}

/// "1 service", "3 services".
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("{n} {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["ports", "env", "image", "volumes"];
        assert_eq!(suggest("prots", keys), Some("ports"));
        assert_eq!(suggest("imgae", keys), Some("image"));
        assert_eq!(suggest("zzzzzzzz", keys), None);
        assert_eq!(suggest("ports", keys), None);
        assert_eq!(suggest("VOLUMES", keys), Some("volumes"));
    }

    #[test]
    fn lists_read_like_english() {
        assert_eq!(and_ticked::<&str>(&[]), "");
        assert_eq!(and_ticked(&["a"]), "`a`");
        assert_eq!(and_ticked(&["a", "b"]), "`a` and `b`");
        assert_eq!(and_ticked(&["a", "b", "c"]), "`a`, `b`, and `c`");
        assert_eq!(count(1, "service"), "1 service");
        assert_eq!(count(2, "service"), "2 services");
    }
}
