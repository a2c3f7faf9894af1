//! What analysts add to a dispute and to their desk: notes, and the names
//! of saved views. Validated on construction, so the store never sees a
//! value it would refuse.

use serde::{Deserialize, Serialize};

/// The longest note kept.
pub const MAX_NOTE: usize = 10_000;
/// The longest view name.
pub const MAX_VIEW_NAME: usize = 80;

/// A note's text: not blank, at most `MAX_NOTE` characters, no control
/// characters but line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteText(String);

/// Why a text was refused, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TextError(pub String);

impl NoteText {
    pub fn parse(text: &str) -> Result<Self, TextError> {
        let text = text.trim().replace("\r\n", "\n");
        if text.is_empty() {
            return Err(TextError("a note cannot be empty".into()));
        }
        if text.chars().count() > MAX_NOTE {
            return Err(TextError(format!(
                "a note is at most {MAX_NOTE} characters"
            )));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(TextError("a note cannot hold control characters".into()));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The most saved views one person may keep.
pub const MAX_SAVED_VIEWS: i64 = 100;

/// A saved view's name: one line, not blank, at most `MAX_VIEW_NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewName(String);

impl ViewName {
    pub fn parse(text: &str) -> Result<Self, TextError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TextError("a view needs a name".into()));
        }
        if text.chars().count() > MAX_VIEW_NAME {
            return Err(TextError(format!(
                "a view's name is at most {MAX_VIEW_NAME} characters"
            )));
        }
        if text.chars().any(char::is_control) {
            return Err(TextError(
                "a view's name is one line without control characters".into(),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_keeps_its_lines_and_refuses_blank_long_or_control_text() {
        assert_eq!(
            NoteText::parse("  Called the cardholder.\r\n\tNo answer. ")
                .unwrap()
                .as_str(),
            "Called the cardholder.\n\tNo answer."
        );
        assert!(NoteText::parse(" \n ").is_err());
        assert!(NoteText::parse(&"x".repeat(MAX_NOTE)).is_ok());
        assert!(NoteText::parse(&"é".repeat(MAX_NOTE + 1)).is_err());
        assert!(NoteText::parse("bell\u{7}").is_err());
        assert!(NoteText::parse("nul\u{0}").is_err());
    }

    #[test]
    fn a_view_name_is_one_trimmed_line() {
        assert_eq!(
            ViewName::parse(" Mine, due soon ").unwrap().as_str(),
            "Mine, due soon"
        );
        assert!(ViewName::parse("").is_err());
        assert!(ViewName::parse("two\nlines").is_err());
        assert!(ViewName::parse(&"v".repeat(MAX_VIEW_NAME)).is_ok());
        assert!(ViewName::parse(&"v".repeat(MAX_VIEW_NAME + 1)).is_err());
    }
}
