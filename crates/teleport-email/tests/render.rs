//! E-mail bodies: the Go plugin's plain text, and an HTML part with everything escaped.

use teleport_email::render::{RESOLVED, request_body, subject};
use teleport_plugin_runtime::messaging::{RequestView, Status};
use teleport_plugin_runtime::record::Resolution;
use teleport_plugin_testsupport::access_request;

const ID: &str = "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

fn view(status: Status, web_base: Option<&str>, reason: &str) -> RequestView {
    RequestView {
        request: access_request(ID, "alice@example.com", &["editor", "auditor"], reason),
        cluster: "teleport.example.com".into(),
        web_base: web_base.map(str::to_owned),
        status,
        resolve_reason: String::new(),
        resources: Vec::new(),
        logins_by_role: Default::default(),
    }
}

#[test]
fn resolution_with_a_link_and_reason() {
    let mut resolved = view(
        Status::Resolved(Resolution::Approved),
        Some("https://teleport.example.com"),
        "",
    );
    resolved.resolve_reason = "ok <b>".into();
    let body = request_body(&resolved, RESOLVED);
    assert_eq!(
        body.text,
        format!(
            "Role Request has been resolved:\n\n\
             ID: {ID}\n\
             Cluster: teleport.example.com\n\
             User: alice@example.com\n\
             Role(s): editor,auditor\n\
             Link: https://teleport.example.com/web/requests/{ID}\n\
             \n\
             Status: ✅ APPROVED (ok <b>)"
        )
    );
    assert!(body.html.contains(&format!(
        "<a href=\"https://teleport.example.com/web/requests/{ID}\">"
    )));
    assert!(body.html.contains("Status: ✅ APPROVED (ok &lt;b&gt;)"));
    assert!(!body.html.contains("<b>"));
    assert_eq!(
        subject("teleport.example.com", ID),
        format!("teleport.example.com Role Request {ID}")
    );
}

#[test]
fn expired_and_promoted_have_no_tsh_commands() {
    for (status, label) in [
        (Status::Resolved(Resolution::Expired), "Status: ⌛ EXPIRED"),
        (Status::Resolved(Resolution::Promoted), "Status: PROMOTED"),
    ] {
        let body = request_body(&view(status, None, "why \"not\""), RESOLVED);
        assert!(body.text.ends_with(label), "{}", body.text);
        assert!(body.text.contains("Reason: why \"not\"\n"), "{}", body.text);
        assert!(!body.text.contains("tsh request review"), "{}", body.text);
        assert!(body.html.contains("why &quot;not&quot;"), "{}", body.html);
    }
}
