//! A TOML error in an owner's words: the full key, the types in words instead of Rust's, and
//! TOML's own line, column and caret with any URL's secrets taken out.

/// A TOML error for an owner: `key \`schedule.reserve_soc\`: expected a whole number, found
/// text "30"`, then TOML's lines with the caret, without Rust's type names.
pub(super) fn toml_error_in_words(text: &str, e: &toml::de::Error) -> String {
    let full = e.to_string();
    let detail = e.message().trim();
    let snippet = full
        .trim_end()
        .strip_suffix(detail)
        .unwrap_or(&full)
        .trim_end();
    // The caret's line is the owner's own text: a URL's token or password never goes to a log.
    let snippet = snippet
        .lines()
        .map(redact_url)
        .collect::<Vec<_>>()
        .join("\n");
    let key = e.span().and_then(|span| key_at(text, span.start));
    let words = type_words(detail);
    match key {
        Some(key) => format!("key `{key}`: {words}\n{snippet}"),
        None => format!("{words}\n{snippet}"),
    }
}

/// A line with any URL's user info, query and fragment replaced by `…`.
fn redact_url(line: &str) -> String {
    let Some(scheme) = line.find("://") else {
        return line.to_string();
    };
    let (head, rest) = line.split_at(scheme + 3);
    let end = rest
        .find(|c: char| c == '"' || c == '\'' || c.is_whitespace())
        .unwrap_or(rest.len());
    let (url, tail) = rest.split_at(end);
    let url = match url.find('@') {
        Some(at) if !url[..at].contains('/') => format!("…@{}", &url[at + 1..]),
        _ => url.to_string(),
    };
    let url = match url.find(['?', '#']) {
        Some(cut) => format!("{}{}…", &url[..cut], &url[cut..=cut]),
        None => url,
    };
    format!("{head}{url}{tail}")
}

/// The dotted key of the line holding byte `at`: its table header and the key before `=`.
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let header = |l: &str| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    };
    // A table's own problem (a missing field) points at its header line.
    if let Some(table) = header(line) {
        return Some(table);
    }
    let key = line.split('=').next()?.trim();
    let table = before[..line_start].lines().rev().find_map(header);
    let key = (!key.is_empty() && !key.starts_with('[')).then_some(key);
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// serde's type names in words: `invalid type: string "30", expected i64` → `expected a whole
/// number, found text "30"`.
fn type_words(detail: &str) -> String {
    let name = |t: &str| -> String {
        let t = t.trim();
        let words = match t {
            "i64" | "i32" | "u64" | "u32" | "u16" | "u8" | "integer" => "a whole number",
            "f64" | "f32" | "a float" | "float" => "a number",
            "a boolean" | "bool" | "boolean" => "true or false",
            "a string" | "string" => "text in quotes",
            "a sequence" | "sequence" => "a list in [ ]",
            "a map" | "map" => "a table",
            _ => {
                return t
                    .replace("string ", "text ")
                    .replace("integer ", "the number ");
            }
        };
        words.to_string()
    };
    if let Some(rest) = detail.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {}, found {}", name(expected), name(found));
        }
    }
    detail.replace("unknown field", "unknown key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{MINIMAL, err_text};
    use crate::config::{Config, Overrides};

    #[test]
    fn toml_errors_in_words_with_the_full_key() {
        let e = Config::parse(
            "timezone = 'UTC'\n[bms]\nurl = 'http://x:1'\n[gx]\nhost = 'x'\n[schedule]\nreserve_soc = \"30\"\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("key `schedule.reserve_soc`: expected a whole number, found text \"30\""),
            "{e}"
        );
        assert!(e.contains("^^^^"), "the caret is kept: {e}");
        assert!(!e.contains("i64"), "{e}");
        assert_eq!(
            type_words("invalid type: integer `1`, expected a boolean"),
            "expected true or false, found the number `1`"
        );
        // A TOML error on a URL's line never shows its token or password.
        let e = Config::parse(
            "[bms]\nurl = \"http://u:pw@x:1/?token=abc\" x\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains("abc") && !e.contains("pw"), "{e}");
    }

    #[test]
    fn a_missing_field_names_its_own_table() {
        let e = err_text(&format!("{MINIMAL}[site]\nlongitude = 147.33\n"));
        assert!(e.contains("key `site`: missing field `latitude`"), "{e}");
    }

    #[test]
    fn toml_errors_keep_line_column_and_caret() {
        let e = err_text(&format!("{MINIMAL}[schedule]\nreserve_soc = = 3\n"));
        assert!(e.contains("line 8, column"), "{e}");
        assert!(e.lines().count() >= 3 && e.contains('^'), "{e}");
    }
}
