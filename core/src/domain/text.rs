//! Texts bounded for where they are kept and shown.

/// `text` cut to at most `max` characters, with `…` when something was cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Valid JSON laid out one member per line, two spaces per level, every
/// token kept exactly as written (`200.00` stays `200.00`, keys keep their
/// order); `None` when `text` is not JSON or its layout would be longer
/// than `max` bytes. Only whitespace between tokens changes.
pub fn indent_json(text: &str, max: usize) -> Option<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() > max {
            return None;
        }
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // An empty object or array stays on its line.
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.push(chars.next().expect("peeked"));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    (out.len() <= max).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{cut, indent_json};

    #[test]
    fn json_is_laid_out_with_every_token_as_written() {
        let raw = "{\"amount\":200.00,\"z\":1, \"a\" :[1,{\"b\":\"x, {y}: \\\"q\\\"\"}],\"e\":{},\"f\":[ ]}";
        let laid = indent_json(raw, 1 << 20).unwrap();
        assert_eq!(
            laid,
            "{\n  \"amount\": 200.00,\n  \"z\": 1,\n  \"a\": [\n    1,\n    {\n      \"b\": \"x, {y}: \\\"q\\\"\"\n    }\n  ],\n  \"e\": {},\n  \"f\": []\n}"
        );
        let compact = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(compact(&laid), compact(raw));
        assert_eq!(
            indent_json("{\"caf\u{e9}\": \"\u{a0}\"}", 1 << 20).unwrap(),
            "{\n  \"caf\u{e9}\": \"\u{a0}\"\n}"
        );
        assert_eq!(indent_json("not json", 1 << 20), None);
        assert_eq!(indent_json("{\"a\":", 1 << 20), None);
        assert_eq!(indent_json("7", 1 << 20).as_deref(), Some("7"));
    }

    #[test]
    fn a_layout_longer_than_asked_for_is_not_made() {
        // 126 levels deep, 8 KiB: every line of its layout is indented.
        let deep = format!("{}{}", "[".repeat(126), "]".repeat(126));
        let laid = indent_json(&deep, 1 << 20).unwrap();
        assert!(laid.len() > 16 * 1024, "{}", laid.len());
        assert_eq!(indent_json(&deep, 16 * 1024), None);
        assert_eq!(
            indent_json("{\"a\":1}", 12).as_deref(),
            Some("{\n  \"a\": 1\n}")
        );
        assert_eq!(indent_json("{\"a\":1}", 11), None);
    }

    #[test]
    fn a_text_is_cut_at_a_character_not_a_byte() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "abc…");
        assert_eq!(cut("éééé", 2), "éé…");
        assert_eq!(cut("", 0), "");
        assert_eq!(cut("a", 0), "…");
    }
}
