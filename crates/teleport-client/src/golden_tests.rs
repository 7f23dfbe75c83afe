//! Golden wire test: bytes laid out by hand the way Teleport's Go code encodes
//! them, decoded through our protos. A wrong field number fails here.

use prost::Message;

use crate::model::{RequestState, WatchEvent};
use crate::watch::to_watch_event;
use crate::wire::proto;

/// A length-delimited field: tag byte(s), length varint, payload.
fn ld(tag: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    let mut len = payload.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(payload);
    out
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// Go's zero time.Time: seconds = -62135596800 as a 10-byte two's-complement varint.
const YEAR_ONE_SECONDS_VARINT: [u8; 10] =
    [0x80, 0x92, 0xb8, 0xc3, 0x98, 0xfe, 0xff, 0xff, 0xff, 0x01];

fn put_event_bytes() -> Vec<u8> {
    let metadata = cat(&[
        ld(&[0x0a], b"0b1e2f3a-1111-4222-8333-944445555666"), // 1 Name
        ld(&[0x12], b"default"),                              // 2 Namespace
        ld(&[0x32], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06]),   // 6 Expires {seconds=1779047936}
    ]);
    let created_year_one = cat(&[vec![0x08], YEAR_ONE_SECONDS_VARINT.to_vec()]);
    let label_values = ld(
        &[0x0a], // 1 Values (map entry)
        &cat(&[
            ld(&[0x0a], b"pagerduty_services"), // key
            ld(
                &[0x12],
                &cat(&[ld(&[0x0a], b"svc-a"), ld(&[0x0a], b"svc-b")]),
            ), // value StringValues
        ]),
    );
    let review = cat(&[
        ld(&[0x0a], b"bob"),                                            // 1 Author
        vec![0x18, 0x02],           // 3 ProposedState = APPROVED
        ld(&[0x22], b"looks fine"), // 4 Reason
        ld(&[0x2a], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06, 0x10, 0x05]), // 5 Created
    ]);
    let resource = cat(&[
        ld(&[0x0a], b"example.com"), // 1 ClusterName
        ld(&[0x12], b"node"),        // 2 Kind
        ld(&[0x1a], b"web-1"),       // 3 Name
    ]);
    let spec = cat(&[
        ld(&[0x0a], b"alice@example.com"), // 1 User
        ld(&[0x12], b"editor"),            // 2 Roles
        ld(&[0x12], b"dba"),
        vec![0x18, 0x01],                                   // 3 State = PENDING
        ld(&[0x22], &created_year_one),                     // 4 Created = year 1 (Go zero time)
        ld(&[0x2a], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06]), // 5 Expires
        ld(&[0x32], b"need `prod` access"),                 // 6 RequestReason
        ld(&[0x4a], &label_values),                         // 9 SystemAnnotations
        ld(&[0x62], &review),                               // 12 Reviews
        ld(&[0x6a], b"carol@example.com"),                  // 13 SuggestedReviewers
        ld(&[0x72], &resource),                             // 14 RequestedResourceIDs
        ld(&[0x8a, 0x01], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06]), // 17 MaxDuration
        ld(&[0x9a, 0x06], b"from a future Teleport"),       // 99: unknown, must be skipped
    ]);
    let request = cat(&[
        ld(&[0x0a], b"access_request"), // 1 Kind
        ld(&[0x1a], b"v3"),             // 3 Version
        ld(&[0x22], &metadata),         // 4 Metadata
        ld(&[0x2a], &spec),             // 5 Spec
    ]);
    cat(&[
        vec![0x08, 0x01],      // 1 Type = PUT
        ld(&[0x72], &request), // 14 AccessRequest (oneof Resource)
    ])
}

#[test]
fn put_event_decodes_every_field() {
    let event = proto::Event::decode(put_event_bytes().as_slice()).expect("decodes");
    let Some(WatchEvent::Put(request)) = to_watch_event(event) else {
        panic!("expected a PUT of an access request");
    };
    assert_eq!(request.id, "0b1e2f3a-1111-4222-8333-944445555666");
    assert_eq!(request.user, "alice@example.com");
    assert_eq!(request.roles, ["editor", "dba"]);
    assert_eq!(request.state, RequestState::Pending);
    assert_eq!(request.created, None, "Go's zero time must read as unset");
    let expected = time::OffsetDateTime::from_unix_timestamp(1_779_047_936).unwrap();
    assert_eq!(request.access_expires, Some(expected));
    assert_eq!(request.resource_expires, Some(expected));
    assert_eq!(request.max_duration, Some(expected));
    assert_eq!(request.request_reason, "need `prod` access");
    assert_eq!(
        request
            .system_annotations
            .get("pagerduty_services")
            .map(Vec::as_slice),
        Some(["svc-a".to_owned(), "svc-b".to_owned()].as_slice())
    );
    assert_eq!(request.reviews.len(), 1);
    let review = &request.reviews[0];
    assert_eq!(review.author, "bob");
    assert_eq!(review.proposed_state, RequestState::Approved);
    assert_eq!(review.reason, "looks fine");
    assert_eq!(
        review.created,
        Some(expected + time::Duration::nanoseconds(5))
    );
    assert_eq!(request.suggested_reviewers, ["carol@example.com"]);
    assert_eq!(request.resources.len(), 1);
    assert_eq!(request.resources[0].to_string(), "/example.com/node/web-1");
}

#[test]
fn delete_event_carries_the_id_in_the_resource_header() {
    let metadata = cat(&[ld(&[0x0a], b"req-1"), ld(&[0x12], b"default")]);
    let header = cat(&[
        ld(&[0x0a], b"access_request"),
        ld(&[0x1a], b"v3"),
        ld(&[0x22], &metadata),
    ]);
    let bytes = cat(&[vec![0x08, 0x02], ld(&[0x12], &header)]); // Type = DELETE, 2 ResourceHeader
    let event = proto::Event::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(
        to_watch_event(event),
        Some(WatchEvent::Delete("req-1".into()))
    );
}

#[test]
fn init_event_with_watch_status_and_unknown_resources_are_not_plugin_events() {
    // INIT (Type omitted = 0) with WatchStatus in field 43.
    let status = cat(&[ld(&[0x0a], b"watch_status")]);
    let init = ld(&[0xda, 0x02], &status);
    let event = proto::Event::decode(init.as_slice()).expect("decodes");
    assert_eq!(event.r#type, proto::Operation::Init as i32);
    assert!(matches!(
        event.resource,
        Some(proto::event::Resource::WatchStatus(_))
    ));
    // A PUT of a resource we do not model (field 45, an access list) is skipped.
    let other = cat(&[vec![0x08, 0x01], ld(&[0xea, 0x02], b"\x0a\x00")]);
    let event = proto::Event::decode(other.as_slice()).expect("decodes");
    assert_eq!(to_watch_event(event), None);
}

#[test]
fn our_encoding_matches_the_go_layout() {
    // Re-encoding the decoded request must place fields at Teleport's numbers:
    // decode → encode → decode is stable, and the AccessRequest sits at tag 0x72.
    let event = proto::Event::decode(put_event_bytes().as_slice()).expect("decodes");
    let bytes = event.encode_to_vec();
    assert_eq!(&bytes[..3], &[0x08, 0x01, 0x72]);
}

// Access monitoring rules and access lists (teleport-wire.md §2.2, §2.8).

fn rule_bytes() -> Vec<u8> {
    let metadata = cat(&[ld(&[0x0a], b"route-dba")]); // header.v1.Metadata 1 name
    let notification = cat(&[
        ld(&[0x0a], b"slack"), // 1 name
        ld(&[0x12], b"#dba"),  // 2 recipients
        ld(&[0x12], b"dba@example.com"),
    ]);
    let review = cat(&[ld(&[0x0a], b"builtin"), ld(&[0x12], b"APPROVED")]);
    let spec = cat(&[
        ld(&[0x0a], b"access_request"), // 1 subjects
        ld(&[0x12], b"approved"),       // 2 states
        ld(&[0x1a], br#"access_request.spec.roles.contains("dba")"#), // 3 condition
        ld(&[0x22], &notification),     // 4 notification
        ld(&[0x32], &review),           // 6 automatic_review
        ld(&[0x3a], b"reviewed"),       // 7 desired_state
    ]);
    cat(&[
        ld(&[0x0a], &metadata),                 // 1 metadata
        ld(&[0x12], b"access_monitoring_rule"), // 2 kind
        ld(&[0x22], b"v1"),                     // 4 version
        ld(&[0x2a], &spec),                     // 5 spec
    ])
}

#[test]
fn access_monitoring_rule_put_sits_at_event_field_54() {
    // Field 54, wire type 2: tag varint 54 << 3 | 2 = 434 = [0xb2, 0x03].
    let bytes = cat(&[vec![0x08, 0x01], ld(&[0xb2, 0x03], &rule_bytes())]);
    let event = proto::Event::decode(bytes.as_slice()).expect("decodes");
    let Some(WatchEvent::RulePut(rule)) = to_watch_event(event) else {
        panic!("expected a rule PUT");
    };
    assert_eq!(rule.name, "route-dba");
    assert_eq!(rule.subjects, ["access_request"]);
    assert_eq!(rule.states, ["approved"]);
    assert_eq!(
        rule.condition,
        r#"access_request.spec.roles.contains("dba")"#
    );
    let notification = rule.notification.expect("notification");
    assert_eq!(notification.name, "slack");
    assert_eq!(notification.recipients, ["#dba", "dba@example.com"]);
    let review = rule.automatic_review.expect("automatic review");
    assert_eq!(
        (review.integration.as_str(), review.decision.as_str()),
        ("builtin", "APPROVED")
    );
    assert_eq!(rule.desired_state, "reviewed");
}

#[test]
fn access_monitoring_rule_delete_carries_its_name_in_the_resource_header() {
    let metadata = ld(&[0x0a], b"route-dba");
    let header = cat(&[
        ld(&[0x0a], b"access_monitoring_rule"),
        ld(&[0x22], &metadata),
    ]);
    let bytes = cat(&[vec![0x08, 0x02], ld(&[0x12], &header)]);
    let event = proto::Event::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(
        to_watch_event(event),
        Some(WatchEvent::RuleDelete("route-dba".into()))
    );
}

#[test]
fn rule_listing_request_uses_teleports_numbers() {
    use crate::wire::teleport::accessmonitoringrules::v1 as amr;
    let request = amr::ListAccessMonitoringRulesWithFilterRequest {
        page_size: 1000,
        page_token: "t".into(),
        subjects: vec!["access_request".into()],
        notification_name: "slack".into(),
        automatic_review_name: String::new(),
    };
    let expected = cat(&[
        vec![0x08, 0xe8, 0x07],         // 1 page_size = 1000
        ld(&[0x12], b"t"),              // 2 page_token
        ld(&[0x1a], b"access_request"), // 3 subjects
        ld(&[0x22], b"slack"),          // 4 notification_name
    ]);
    assert_eq!(request.encode_to_vec(), expected);
    let reply = cat(&[ld(&[0x0a], &rule_bytes()), ld(&[0x12], b"next")]);
    let reply = amr::ListAccessMonitoringRulesWithFilterResponse::decode(reply.as_slice())
        .expect("decodes");
    assert_eq!(reply.rules.len(), 1);
    assert_eq!(reply.next_page_token, "next");
}

#[test]
fn access_list_decodes_owners_title_and_audit_dates() {
    use crate::wire::teleport::accesslist::v1 as accesslist;
    let header = ld(&[0x22], &ld(&[0x0a], b"payroll")); // ResourceHeader 4 metadata {1 name}
    let owner = cat(&[
        ld(&[0x0a], b"carol"),
        ld(&[0x12], b"lead"),
        vec![0x18, 0x01],
    ]);
    let start = cat(&[vec![0x08, 0x80, 0xf5, 0x24]]); // Duration 1 seconds = 604800 (a week)
    let audit = cat(&[
        ld(&[0x12], &[0x08, 0x80, 0xbc, 0xa8, 0xd0, 0x06]), // 2 next_audit_date
        ld(&[0x22], &ld(&[0x0a], &start)),                  // 4 notifications {1 start}
    ]);
    let spec = cat(&[
        ld(&[0x0a], b"who may pay"), // 1 description
        ld(&[0x12], &owner),         // 2 owners
        ld(&[0x1a], &audit),         // 3 audit
        ld(&[0x42], b"Payroll"),     // 8 title
        ld(&[0x32], b"\x0a\x00"),    // 6 grants: not mirrored, skipped
    ]);
    let bytes = cat(&[ld(&[0x0a], &header), ld(&[0x12], &spec)]);
    let wire = accesslist::AccessList::decode(bytes.as_slice()).expect("decodes");
    let list = crate::convert::access_list(wire);
    assert_eq!(list.name, "payroll");
    assert_eq!(list.title, "Payroll");
    assert_eq!(list.owners.len(), 1);
    assert_eq!(list.owners[0].name, "carol");
    assert_eq!(
        list.next_audit_date,
        Some(time::OffsetDateTime::from_unix_timestamp(1_779_047_936).unwrap())
    );
    assert_eq!(list.notification_start, time::Duration::weeks(1));
}

#[test]
fn watch_status_in_init_lists_the_granted_kinds() {
    // WatchStatusV1 { 5 spec: WatchStatusSpecV1 { 1 kinds: [WatchKind{1 kind}] } }
    let kinds = cat(&[
        ld(&[0x0a], &ld(&[0x0a], b"access_request")),
        ld(&[0x0a], &ld(&[0x0a], b"access_monitoring_rule")),
    ]);
    let status = cat(&[ld(&[0x0a], b"watch_status"), ld(&[0x2a], &kinds)]);
    let init = proto::Event::decode(ld(&[0xda, 0x02], &status).as_slice()).expect("decodes");
    assert!(crate::watch::confirms(&init, "access_monitoring_rule"));
    assert!(!crate::watch::confirms(&init, "access_list"));
    let v12_init = proto::Event::decode(&[][..]).expect("decodes");
    assert!(!crate::watch::confirms(&v12_init, "access_monitoring_rule"));
}

#[test]
fn a_review_on_behalf_of_its_author_sets_field_12_not_submitted_by() {
    use crate::wire::types;
    // Teleport's AccessReview: SubmittedBy = 11 (string, set by the server),
    // submitted_on_behalf_of_author = 12 (bool). A bool at 11 would be a wire-type error
    // for Go's decoder, so the flag's bytes are pinned here.
    let review = types::AccessReview {
        author: "alice".into(),
        submitted_on_behalf_of_author: true,
        ..Default::default()
    };
    let expected = cat(&[ld(&[0x0a], b"alice"), vec![0x60, 0x01]]);
    assert_eq!(review.encode_to_vec(), expected);
    let from_go = cat(&[
        ld(&[0x0a], b"alice"),
        ld(&[0x5a], b"access-plugin"), // 11 SubmittedBy
        vec![0x60, 0x01],              // 12 submitted_on_behalf_of_author
    ]);
    let decoded = types::AccessReview::decode(from_go.as_slice()).expect("decodes");
    assert_eq!(decoded.submitted_by, "access-plugin");
    assert!(decoded.submitted_on_behalf_of_author);
}

#[test]
fn list_resources_is_asked_and_answered_in_teleport_s_numbers() {
    use crate::resources::{ListedResource, any_name_matcher, listed};
    // proto.ListResourcesRequest: ResourceType = 1, Limit = 3, PredicateExpression = 6,
    // UseSearchAsRoles = 11, UsePreviewAsRoles = 12.
    let predicate = any_name_matcher(&["n1".to_owned(), "n2".to_owned()]);
    let request = proto::ListResourcesRequest {
        resource_type: "node".into(),
        limit: 2,
        predicate_expression: predicate.clone(),
        use_search_as_roles: true,
        use_preview_as_roles: true,
        ..Default::default()
    };
    let expected = cat(&[
        ld(&[0x0a], b"node"),
        vec![0x18, 0x02],
        ld(&[0x32], predicate.as_bytes()),
        vec![0x58, 0x01, 0x60, 0x01],
    ]);
    assert_eq!(request.encode_to_vec(), expected);

    // proto.ListResourcesResponse: Resources = 1 (PaginatedResource: AppServer = 2,
    // Node = 3, UserGroup = 10, DatabaseServer = 1 not declared here, Logins = 13),
    // NextKey = 2.
    let node = cat(&[
        ld(&[0x0a], b"node"),             // 1 Kind
        ld(&[0x1a], b"v2"),               // 3 Version
        ld(&[0x22], &ld(&[0x0a], b"n1")), // 4 Metadata { Name }
        ld(
            &[0x2a],
            &cat(&[ld(&[0x0a], b"10.0.0.1:3022"), ld(&[0x1a], b"web-1")]),
        ), // 5 Spec { Addr = 1, Hostname = 3 }
    ]);
    let okta_labels = cat(&[
        ld(
            &[0x2a],
            &cat(&[ld(&[0x0a], b"teleport.dev/origin"), ld(&[0x12], b"okta")]),
        ),
        ld(
            &[0x2a],
            &cat(&[
                ld(&[0x0a], b"teleport.internal/okta-app-name"),
                ld(&[0x12], b"Payroll"),
            ]),
        ),
    ]);
    let app = cat(&[
        ld(&[0x0a], b"app"),
        ld(&[0x22], &cat(&[ld(&[0x0a], b"0oa1payroll"), okta_labels])), // 4 Metadata
    ]);
    let app_server = cat(&[
        ld(&[0x0a], b"app_server"),
        ld(&[0x2a], &cat(&[ld(&[0x12], b"host-1"), ld(&[0x2a], &app)])), // 5 Spec { App = 5 }
    ]);
    let database = ld(&[0x0a], &ld(&[0x0a], b"db_server")); // 1 DatabaseServer
    // types.UserGroupV1: Header = 1 (ResourceHeader: Kind = 1, Version = 3, Metadata = 4),
    // Spec = 2 (Applications = 1, skipped).
    let group_labels = cat(&[
        ld(
            &[0x2a],
            &cat(&[ld(&[0x0a], b"teleport.dev/origin"), ld(&[0x12], b"okta")]),
        ),
        ld(
            &[0x2a],
            &cat(&[
                ld(&[0x0a], b"teleport.internal/okta-group-name"),
                ld(&[0x12], b"Engineering"),
            ]),
        ),
    ]);
    let user_group = cat(&[
        ld(
            &[0x0a],
            &cat(&[
                ld(&[0x0a], b"user_group"),
                ld(&[0x1a], b"v1"),
                ld(
                    &[0x22],
                    &cat(&[ld(&[0x0a], b"00g1engineering"), group_labels]),
                ),
            ]),
        ),
        ld(&[0x12], &ld(&[0x0a], b"0oa1payroll")),
    ]);
    let response = cat(&[
        ld(&[0x0a], &cat(&[ld(&[0x1a], &node), ld(&[0x6a], b"root")])),
        ld(&[0x0a], &ld(&[0x12], &app_server)),
        ld(&[0x0a], &database),
        ld(&[0x0a], &ld(&[0x52], &user_group)), // 10 UserGroup
        ld(&[0x12], b"next-key"),
    ]);
    let decoded = proto::ListResourcesResponse::decode(response.as_slice()).expect("decodes");
    assert_eq!(decoded.next_key, "next-key");
    assert_eq!(decoded.resources[0].logins, ["root"]);
    let named: Vec<ListedResource> = decoded.resources.into_iter().filter_map(listed).collect();
    assert_eq!(
        named,
        [
            ListedResource {
                kind: "node".into(),
                name: "n1".into(),
                friendly_name: Some("web-1".into()),
            },
            ListedResource {
                kind: "app".into(),
                name: "0oa1payroll".into(),
                friendly_name: Some("Payroll".into()),
            },
            ListedResource {
                kind: "user_group".into(),
                name: "00g1engineering".into(),
                friendly_name: Some("Engineering".into()),
            },
        ]
    );
}
