//! Users and roles: resources tests register so GetUser/GetRole and reviewer checks work.

use teleport_client::wire::types::{
    AccessReviewConditions, Metadata, RoleConditions, RoleSpecV6, RoleV6, UserSpecV2, UserV2,
};
use teleport_client::wire::wrappers::{LabelValues, StringValues};

use crate::state::NAMESPACE;
use crate::testkit::Testkit;

/// A `types.UserV2` with roles and traits (e.g. `("logins", &["root"])`).
pub fn user_resource(name: &str, roles: &[&str], traits: &[(&str, &[&str])]) -> UserV2 {
    UserV2 {
        kind: "user".to_owned(),
        sub_kind: String::new(),
        version: "v2".to_owned(),
        metadata: Some(metadata(name)),
        spec: Some(UserSpecV2 {
            roles: strings(roles),
            traits: Some(LabelValues {
                values: traits
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), StringValues { values: strings(v) }))
                    .collect(),
            }),
            expires: None,
        }),
    }
}

/// A `types.RoleV6` (version `v7`) allowing `logins` and reviews of requests for
/// `reviewable_roles` (`*` for all).
pub fn role_resource(name: &str, logins: &[&str], reviewable_roles: &[&str]) -> RoleV6 {
    let review_requests = (!reviewable_roles.is_empty()).then(|| AccessReviewConditions {
        roles: strings(reviewable_roles),
        ..Default::default()
    });
    RoleV6 {
        kind: "role".to_owned(),
        sub_kind: String::new(),
        version: "v7".to_owned(),
        metadata: Some(metadata(name)),
        spec: Some(RoleSpecV6 {
            allow: Some(RoleConditions {
                logins: strings(logins),
                review_requests,
                ..Default::default()
            }),
            deny: Some(RoleConditions::default()),
        }),
    }
}

fn metadata(name: &str) -> Metadata {
    Metadata {
        name: name.to_owned(),
        namespace: NAMESPACE.to_owned(),
        ..Default::default()
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

impl Testkit {
    /// Stores (or replaces) a user, keyed by `metadata.name`.
    pub fn put_user(&self, user: UserV2) {
        let name = user
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        self.shared.mutate(|state| state.users.insert(name, user));
    }

    /// Stores (or replaces) a role, keyed by `metadata.name`.
    pub fn put_role(&self, role: RoleV6) {
        let name = role
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        self.shared.mutate(|state| state.roles.insert(name, role));
    }

    /// Registers a user holding `roles`, without traits.
    pub fn add_user(&self, name: &str, roles: &[&str]) {
        self.put_user(user_resource(name, roles, &[]));
    }

    /// Registers a role allowing `logins` (no review rights).
    pub fn add_role(&self, name: &str, logins: &[&str]) {
        self.put_role(role_resource(name, logins, &[]));
    }

    /// One line for "`name` (a plugin) may submit reviews for users matching `users`" (`*`
    /// for all, as Teleport's `access-plugin-with-review` preset): stores role
    /// `<name>-submit-for` with `allow.review_requests.submit_for_users` and gives it to
    /// `name`. The reviews still pass the reviewer check as their author.
    pub fn allow_submit_for(&self, name: &str, users: &[&str]) {
        let role_name = format!("{name}-submit-for");
        let mut role = role_resource(&role_name, &[], &[]);
        if let Some(allow) = role.spec.as_mut().and_then(|s| s.allow.as_mut()) {
            allow.review_requests = Some(AccessReviewConditions {
                submit_for_users: strings(users),
                ..Default::default()
            });
        }
        self.put_role(role);
        self.grant_role(name, role_name);
    }

    /// One line for "`name` may review requests for `reviewable_roles`": stores role
    /// `<name>-reviewer` with `allow.review_requests.roles` and gives it to `name` (created
    /// if unknown, else added to its roles).
    pub fn add_reviewer(&self, name: &str, reviewable_roles: &[&str]) {
        let role = format!("{name}-reviewer");
        self.put_role(role_resource(&role, &[], reviewable_roles));
        self.grant_role(name, role);
    }

    /// Gives user `name` (created if unknown) role `role`, once.
    fn grant_role(&self, name: &str, role: String) {
        self.shared.mutate(|state| {
            let user = state
                .users
                .entry(name.to_owned())
                .or_insert_with(|| user_resource(name, &[], &[]));
            let roles = &mut user.spec.get_or_insert_with(Default::default).roles;
            if !roles.contains(&role) {
                roles.push(role);
            }
        });
    }
}
