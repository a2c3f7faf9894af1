//! Texts bounded for where they are kept and shown.

/// `text` cut to at most `max` characters, with `…` when something was cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn a_text_is_cut_at_a_character_not_a_byte() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "abc…");
        assert_eq!(cut("éééé", 2), "éé…");
        assert_eq!(cut("", 0), "");
        assert_eq!(cut("a", 0), "…");
    }
}
