//! The audit log in sentences: what an action is called, and what changed
//! as "field: before → after", so ops read the log without its JSON (which
//! stays one click away).

use serde_json::Value;

/// What `action` (an audit entry's name) did, as a verb phrase:
/// `signed in`, `changed a connection`. An action this list does not know
/// (a newer one) reads as its name.
pub fn action_words(action: &str) -> String {
    let words = match action {
        "session.signed_in" => "signed in",
        "session.signed_out" => "signed out",
        "user.created" => "created an account",
        "user.updated" => "changed an account",
        "user.password_reset" => "reset a password",
        "user.password_changed" => "changed their password",
        "user.sign_in_unlocked" => "forgot failed sign-ins",
        "user.timezone" => "changed a time zone",
        "connection.created" => "added a connection",
        "connection.updated" => "changed a connection",
        "connection.key_set" => "set a key",
        "connection.key_promoted" => "promoted a next key",
        "connection.key_discarded" => "discarded a next key",
        "delivery.replay" => "replayed a delivery",
        "deliveries.replay_run" => "replayed deliveries in bulk",
        "dispute.note" => "added a note",
        "dispute.assign" => "assigned a dispute",
        "dispute.status_query" => "asked a provider about a dispute",
        "dispute.conflict_reviewed" => "marked a disagreement reviewed",
        "response.prepared" => "prepared a response",
        "response.file_added" => "added evidence to a response",
        "response.file_removed" => "removed evidence from a response",
        "response.text_saved" => "edited a response's letter",
        "response.marked_ready" => "marked a response ready",
        "response.back_to_draft" => "put a response back to draft",
        "response.checklist_asked" => "asked a provider what a response needs",
        "letters.template_saved" => "changed a cover letter template",
        "disputes.rebuild_check" => "checked disputes for a rebuild",
        "disputes.rebuild_apply" => "rebuilt disputes",
        other => return other.to_owned(),
    };
    words.to_owned()
}

/// What changed, one line per field whose value differs between
/// `details.before` and `details.after` (`role: analyst → admin`); a
/// single value changed reads without a field name. Empty when the entry
/// has no before and after.
pub fn changes(details: &Value) -> Vec<String> {
    let (Some(before), Some(after)) = (details.get("before"), details.get("after")) else {
        return Vec::new();
    };
    match (before.as_object(), after.as_object()) {
        (Some(before), Some(after)) => {
            let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
            fields.sort();
            fields.dedup();
            fields
                .into_iter()
                .filter_map(|field| {
                    let (was, is) = (before.get(field), after.get(field));
                    (was != is).then(|| format!("{field}: {} → {}", shown(was), shown(is)))
                })
                .collect()
        }
        _ if before != after => vec![format!("{} → {}", shown(Some(before)), shown(Some(after)))],
        _ => Vec::new(),
    }
}

/// A value as the change reads: text without its quotes, nothing as "none".
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(text)) if text.is_empty() => "empty".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) if items.is_empty() => "none".to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| shown(Some(item)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_actions_read_as_sentences_and_new_ones_as_their_names() {
        assert_eq!(action_words("session.signed_in"), "signed in");
        assert_eq!(action_words("connection.key_set"), "set a key");
        assert_eq!(
            action_words("dispute.conflict_reviewed"),
            "marked a disagreement reviewed"
        );
        assert_eq!(action_words("something.new"), "something.new");
    }

    #[test]
    fn a_change_lists_each_field_that_differs() {
        let details = json!({
            "before": {"role": "analyst", "disabled": false, "name": "A"},
            "after": {"role": "admin", "disabled": false, "name": "A", "zone": "UTC"},
        });
        assert_eq!(
            changes(&details),
            ["role: analyst → admin", "zone: none → UTC"]
        );
    }

    #[test]
    fn a_single_value_changes_without_a_field_name() {
        assert_eq!(
            changes(&json!({"before": "UTC", "after": "Asia/Dubai", "from": "browser"})),
            ["UTC → Asia/Dubai"]
        );
        assert_eq!(
            changes(&json!({"before": null, "after": ["10.0.0.1", "10.0.0.2"]})),
            ["none → 10.0.0.1, 10.0.0.2"]
        );
        assert!(changes(&json!({"before": "x", "after": "x"})).is_empty());
        assert!(changes(&json!({"note": 4})).is_empty());
        assert!(changes(&json!({})).is_empty());
    }
}
