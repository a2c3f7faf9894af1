//! The addresses of the pages that other pages link to, in one place so
//! that pages link to each other without importing each other.

/// A dispute's page: by its id, as a provider's reference may hold any
/// text (`/`, `..`) and a path segment cannot.
pub fn dispute(id: i64) -> String {
    format!("/disputes/{id}")
}

/// A delivery's page.
pub fn delivery(id: i64) -> String {
    format!("/deliveries/{id}")
}

/// A rebuild's page.
pub fn rebuild(id: i64) -> String {
    format!("/rebuilds/{id}")
}

/// A bulk replay's page.
pub fn replay_run(id: i64) -> String {
    format!("/replays/runs/{id}")
}

/// The confirmation page of a decision about a dispute (`defend`,
/// `accept`, `outside`).
pub fn decide(dispute: i64, choice: &str) -> String {
    format!("/disputes/{dispute}/decide/{choice}")
}

/// A response's page.
pub fn response(id: i64) -> String {
    format!("/responses/{id}")
}

/// An evidence file, as a download.
pub fn evidence(id: i64) -> String {
    format!("/evidence/{id}")
}

/// Where a response's files are sent.
pub fn response_files(id: i64) -> String {
    format!("/responses/{id}/files")
}

/// A response's packet, as a download.
pub fn packet(id: i64) -> String {
    format!("/responses/{id}/packet.pdf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_is_addressed_by_its_id() {
        assert_eq!(dispute(7), "/disputes/7");
        assert_eq!(delivery(8), "/deliveries/8");
        assert_eq!(rebuild(9), "/rebuilds/9");
        assert_eq!(replay_run(10), "/replays/runs/10");
        assert_eq!(response(11), "/responses/11");
        assert_eq!(evidence(12), "/evidence/12");
        assert_eq!(response_files(13), "/responses/13/files");
        assert_eq!(packet(14), "/responses/14/packet.pdf");
    }
}
