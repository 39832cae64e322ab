//! Compose's durations (Go's `1m30s`, `10s`, `500ms`, `1.5h`) and byte sizes (Docker's
//! `512m`, `1g`, `1.5GB`, a bare number of bytes). Pure.

use std::time::Duration;

/// A Go duration: one or more `<number><unit>` with units `ns`, `us` (`µs`), `ms`, `s`, `m`,
/// `h`; `0` alone is allowed. `None` for anything else, negative durations included.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." {
            return None;
        }
        let number: f64 = number.parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A byte size as Docker reads `mem_limit`: a number (decimals allowed) with an optional
/// binary unit `b`, `k`, `m`, `g`, `t`, `p` (case-insensitive, optionally followed by `b` or
/// `ib`). `None` for anything else or a size past `u64`.
pub(crate) fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let number_end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let number: f64 = text[..number_end].parse().ok()?;
    let unit = text[number_end..].trim_start().to_ascii_lowercase();
    let power = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    // `b` alone is bytes; `kib`/`kb`/`k` are all kibibytes, as Docker counts them.
    if matches!(unit.as_str(), "ib") {
        return None;
    }
    let bytes = number * 1024f64.powi(power);
    (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("1m30s"), Some(ms(90_000)));
        assert_eq!(parse_duration("10s"), Some(ms(10_000)));
        assert_eq!(parse_duration("500ms"), Some(ms(500)));
        assert_eq!(parse_duration("1.5h"), Some(ms(5_400_000)));
        assert_eq!(parse_duration("1h2m3s4ms"), Some(ms(3_723_004)));
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in ["", "10", "s", "1x", "-1s", "1m 30s", "1..5s", ".s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn docker_byte_sizes() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("1GB"), Some(1 << 30));
        assert_eq!(parse_bytes("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_bytes("64k"), Some(64 << 10));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("100b"), Some(100));
        for bad in ["", "m", "1x", "1 gigabyte", "-1m", "ib", "1ib", "99999999999p"] {
            assert_eq!(parse_bytes(bad), None, "{bad:?}");
        }
    }
}
