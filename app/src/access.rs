//! Who may reach what: one table for every page and every server function.
//! The server enforces it on every request before any handler runs, and
//! server functions check again themselves; the role-matrix test walks the
//! same table, and fails when a route exists that the table does not name.

use dispute_core::domain::{Permission, Role};
use leptos::server_fn::ServerFn;

use crate::pages::{
    account, connection, decide, delivery, dispute, disputes, letters, login, rebuilds, replays,
    response, setup, users,
};

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in person, whatever their role.
    SignedIn,
    Needs(Permission),
}

impl Access {
    pub fn allows(self, role: Option<Role>) -> bool {
        match (self, role) {
            (Access::Public, _) => true,
            (_, None) => false,
            (Access::SignedIn, Some(_)) => true,
            (Access::Needs(permission), Some(role)) => role.may(permission),
        }
    }
}

use Access::*;
use Permission::*;

/// Every page; `{name}` matches one path segment.
pub const PAGES: &[(&str, Access)] = &[
    ("/login", Public),
    ("/setup", Public),
    ("/account", SignedIn),
    ("/account/password", SignedIn),
    ("/disputes", Needs(ReadDisputes)),
    ("/disputes/{id}", Needs(ReadDisputes)),
    ("/disputes/{id}/decide/{choice}", Needs(WorkDisputes)),
    ("/responses/{id}", Needs(ReadDisputes)),
    ("/letters", Needs(ManageLetters)),
    ("/deadlines", Needs(ReadDisputes)),
    ("/dashboard", Needs(ReadDisputes)),
    ("/deliveries", Needs(ReadDeliveries)),
    ("/deliveries/{id}", Needs(ReadDeliveries)),
    ("/queries", Needs(ReadDeliveries)),
    ("/jobs", Needs(ReadDeliveries)),
    ("/providers", Needs(ReadDeliveries)),
    ("/replays", Needs(Replay)),
    ("/replays/runs/{id}", Needs(Replay)),
    ("/rebuilds", Needs(RebuildDisputes)),
    ("/rebuilds/{id}", Needs(RebuildDisputes)),
    ("/connections", Needs(ManageConnections)),
    ("/connections/new", Needs(ManageConnections)),
    ("/connections/{slug}", Needs(ManageConnections)),
    ("/users", Needs(ManageUsers)),
    ("/audit", Needs(ReadAuditLog)),
];

/// Every download (served by the server's own routes, not a page).
pub const DOWNLOADS: &[(&str, Access)] = &[
    ("/disputes.csv", Needs(ReadDisputes)),
    ("/deliveries/{id}/raw", Needs(ReadDeliveries)),
    ("/evidence/{id}", Needs(ReadDisputes)),
    ("/responses/{id}/packet.pdf", Needs(ReadDisputes)),
];

/// Every upload (a multipart form, read as it streams by the server's own
/// route rather than whole like other forms).
pub const UPLOADS: &[(&str, Access)] = &[("/responses/{id}/files", Needs(WorkDisputes))];

/// Whether `path` is an upload's address.
pub fn is_upload(path: &str) -> bool {
    UPLOADS.iter().any(|(pattern, _)| matches(pattern, path))
}

/// Every server function (every form's action), by its endpoint. Pages
/// read their data with plain functions, so no other endpoint exists.
pub const SERVER_FUNCTIONS: &[(&str, Access)] = &[
    (login::Login::PATH, Public),
    (setup::Setup::PATH, Public),
    (login::Logout::PATH, SignedIn),
    (account::ChangePassword::PATH, SignedIn),
    (account::SetTimezone::PATH, SignedIn),
    (disputes::SaveView::PATH, Needs(ReadDisputes)),
    (disputes::DeleteView::PATH, Needs(ReadDisputes)),
    (dispute::AddNote::PATH, Needs(WorkDisputes)),
    (dispute::Assign::PATH, Needs(WorkDisputes)),
    (dispute::QueryStatus::PATH, Needs(WorkDisputes)),
    (dispute::MarkReviewed::PATH, Needs(WorkDisputes)),
    (response::PrepareResponse::PATH, Needs(WorkDisputes)),
    (response::SaveResponseText::PATH, Needs(WorkDisputes)),
    (response::MarkReady::PATH, Needs(WorkDisputes)),
    (response::BackToDraft::PATH, Needs(WorkDisputes)),
    (response::RemoveEvidence::PATH, Needs(WorkDisputes)),
    (response::AskChecklist::PATH, Needs(WorkDisputes)),
    (decide::Decide::PATH, Needs(WorkDisputes)),
    (decide::RevokeLink::PATH, Needs(WorkDisputes)),
    (letters::SaveTemplate::PATH, Needs(ManageLetters)),
    (delivery::ReplayDelivery::PATH, Needs(Replay)),
    (replays::ReplayMatching::PATH, Needs(Replay)),
    (rebuilds::CheckDisputes::PATH, Needs(RebuildDisputes)),
    (rebuilds::ApplyRebuild::PATH, Needs(RebuildDisputes)),
    (connection::SaveConnection::PATH, Needs(ManageConnections)),
    (connection::AddNextKey::PATH, Needs(ManageConnections)),
    (connection::PromoteNextKey::PATH, Needs(ManageConnections)),
    (connection::DiscardNextKey::PATH, Needs(ManageConnections)),
    (connection::SetSigningKey::PATH, Needs(ManageConnections)),
    (users::CreateUser::PATH, Needs(ManageUsers)),
    (users::UpdateUser::PATH, Needs(ManageUsers)),
    (users::ResetPassword::PATH, Needs(ManageUsers)),
    (users::UnlockUser::PATH, Needs(ManageUsers)),
];

/// Whether `path` is a server function's endpoint.
pub fn is_server_function(path: &str) -> bool {
    SERVER_FUNCTIONS
        .iter()
        .any(|(endpoint, _)| *endpoint == path)
}

/// The access a path requires. Paths no entry names (a typo, an old
/// link) need a signed-in person, who then sees the 404 page.
pub fn required(path: &str) -> Access {
    PAGES
        .iter()
        .chain(DOWNLOADS)
        .chain(UPLOADS)
        .chain(SERVER_FUNCTIONS)
        .find(|(pattern, _)| matches(pattern, path))
        .map_or(SignedIn, |(_, access)| *access)
}

/// Whether `path` is one of the pages (not a server function or an unknown
/// address).
pub fn is_page(path: &str) -> bool {
    PAGES.iter().any(|(pattern, _)| matches(pattern, path))
}

/// Whether `path` fits `pattern`, where `{name}` stands for one segment.
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.split('/');
    let mut path = path.trim_end_matches('/').split('/');
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') && !s.is_empty() => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        assert!(matches("/connections/{slug}", "/connections/pingpong-main"));
        assert!(matches(
            "/connections/{slug}",
            "/connections/pingpong-main/"
        ));
        assert!(!matches("/connections/{slug}", "/connections"));
        assert!(!matches("/connections/{slug}", "/connections/a/b"));
        assert!(matches("/users", "/users"));
        assert!(!matches("/users", "/users-x"));
    }

    #[test]
    fn listed_paths_need_their_access_and_others_a_sign_in() {
        assert_eq!(required("/connections"), Needs(ManageConnections));
        assert_eq!(required("/api/login"), Public);
        assert!(is_server_function("/api/users/create"));
        assert!(!is_server_function("/api/users/list"));
        assert_eq!(required("/no/such/page"), SignedIn);
    }

    #[test]
    fn pages_are_told_apart_from_everything_else() {
        assert!(is_page("/connections/pingpong-main"));
        assert!(!is_page("/api/login"));
        assert!(!is_page("/favicon.ico"));
    }

    #[test]
    fn access_allows_by_role() {
        assert!(Public.allows(None));
        assert!(!SignedIn.allows(None));
        assert!(SignedIn.allows(Some(Role::Analyst)));
        assert!(!Needs(ReadDeliveries).allows(Some(Role::Analyst)));
        assert!(Needs(ReadDeliveries).allows(Some(Role::Ops)));
        assert!(Needs(ManageUsers).allows(Some(Role::Admin)));
    }
}
