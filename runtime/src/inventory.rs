//! The security inventory: every endpoint with its method, path, who may call it, its rate
//! and what the rate counts. Print it at start-up, serialize it for a review tool, and keep
//! it as a snapshot in the test suite, so that any change of the security surface shows up
//! in review.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::endpoint::{Access, MountedEndpoint};
use crate::guard::UnsecuredRoute;
use crate::openapi::effective_rate;
use crate::security::Security;

/// Who may call an endpoint, as the inventory states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum InventoryAccess {
    /// Anyone, rate limited and audited by Portcullis.
    Public,
    /// A route of the app declared deliberately unsecured: the guard lets it through, and
    /// Portcullis neither authenticates, limits nor audits it.
    Unsecured,
    /// A caller with a valid token meeting the requirements.
    Secured {
        /// Scopes required, all of them.
        scopes: Vec<&'static str>,
        /// Scopes of which one is enough.
        any_scope: Vec<&'static str>,
        /// Roles required.
        roles: Vec<&'static str>,
        /// The policy that must allow.
        policy: Option<&'static str>,
    },
}

impl fmt::Display for InventoryAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InventoryAccess::Public => f.write_str("public"),
            InventoryAccess::Unsecured => f.write_str("UNSECURED"),
            InventoryAccess::Secured {
                scopes,
                any_scope,
                roles,
                policy,
            } => {
                let mut parts = Vec::new();
                if !scopes.is_empty() {
                    parts.push(format!("scopes {}", scopes.join(" + ")));
                }
                if !any_scope.is_empty() {
                    parts.push(format!("any of {}", any_scope.join(" | ")));
                }
                if !roles.is_empty() {
                    parts.push(format!("roles {}", roles.join(" + ")));
                }
                if let Some(policy) = policy {
                    parts.push(format!("policy {policy}"));
                }
                f.write_str(&parts.join("; "))
            }
        }
    }
}

/// One endpoint of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryEntry {
    /// The method.
    pub method: String,
    /// The route template, prefixes included (`/assets/**` for an unsecured prefix).
    pub path: String,
    /// The handler (empty for an unsecured route).
    pub handler: &'static str,
    /// Who may call it.
    pub access: InventoryAccess,
    /// Its rate (`unlimited` for the explicit opt-out), as enforced: scaled, defaults
    /// applied; `-` for an unsecured route.
    pub rate: String,
    /// What the rate counts: `client`, `subject`, `ip`, `global`, or `fn path::to::key`
    /// for a custom key; `-` for an unsecured route.
    pub rate_key: String,
    /// The largest body accepted, in bytes (0 for an unsecured route).
    pub body_limit: usize,
}

/// Every endpoint of a router and its security; see [`SecureRouter::inventory`](crate::SecureRouter::inventory).
///
/// It prints as a table (sorted by path, then method) and serializes to JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// The endpoints, sorted by path, then method.
    pub endpoints: Vec<InventoryEntry>,
    /// Settings a reviewer must see, printed under the table (for example
    /// `development_error_details` on).
    pub warnings: Vec<String>,
}

impl Inventory {
    pub(crate) fn new(
        mounted: &[MountedEndpoint],
        unsecured: &[UnsecuredRoute],
        security: &Security,
    ) -> Inventory {
        let mut endpoints: Vec<InventoryEntry> = mounted
            .iter()
            .map(|&MountedEndpoint { spec, path, .. }| InventoryEntry {
                method: spec.method.as_str().to_owned(),
                path: path.to_owned(),
                handler: spec.handler,
                access: match &spec.access {
                    Access::Public => InventoryAccess::Public,
                    Access::Secured(requirements) => InventoryAccess::Secured {
                        scopes: requirements.all_scope_names.to_vec(),
                        any_scope: requirements.any_scope_names.to_vec(),
                        roles: requirements.roles.to_vec(),
                        policy: requirements.policy.map(|policy| policy.name),
                    },
                },
                rate: effective_rate(spec, security)
                    .map_or_else(|| "unlimited".to_owned(), |rate| rate.to_string()),
                rate_key: spec.rate_key.to_string(),
                body_limit: spec.body_limit.unwrap_or(security.body_limit()),
            })
            .chain(unsecured.iter().map(|route| InventoryEntry {
                method: route.method().as_str().to_owned(),
                path: route.display_path(),
                handler: "",
                access: InventoryAccess::Unsecured,
                rate: "-".to_owned(),
                rate_key: "-".to_owned(),
                body_limit: 0,
            }))
            .collect();
        endpoints.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        let mut warnings = Vec::new();
        if security.error_details() {
            warnings.push(
                "development_error_details is on: 401 responses name the precise reason a \
                 token was refused; never in production"
                    .to_owned(),
            );
        }
        Inventory {
            endpoints,
            warnings,
        }
    }

    /// The inventory as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Compares the inventory's table with the snapshot at `path`, and panics, showing the
    /// differences, when they differ. With `PORTCULLIS_BLESS` set in the environment, it
    /// writes the snapshot instead: review the diff before committing it.
    ///
    /// ```no_run
    /// # fn router() -> portcullis_runtime::SecureRouter { unimplemented!() }
    /// #[test]
    /// fn the_security_surface_is_reviewed() {
    ///     router().inventory().assert_snapshot("tests/snapshots/inventory.txt");
    /// }
    /// ```
    #[track_caller]
    pub fn assert_snapshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let table = self.to_string();
        if std::env::var_os("PORTCULLIS_BLESS").is_some() {
            if let Err(error) = std::fs::write(path, &table) {
                panic!(
                    "cannot write the inventory snapshot {}: {error}",
                    path.display()
                );
            }
            return;
        }
        let expected = std::fs::read_to_string(path).unwrap_or_default();
        if expected == table {
            return;
        }
        let mut report = String::new();
        for line in expected
            .lines()
            .filter(|line| !table.lines().any(|now| now == *line))
        {
            report.push_str(&format!("- {line}\n"));
        }
        for line in table
            .lines()
            .filter(|line| !expected.lines().any(|was| was == *line))
        {
            report.push_str(&format!("+ {line}\n"));
        }
        panic!(
            "the security inventory differs from {}:\n{report}\nif the change is intended, \
             rerun with PORTCULLIS_BLESS=1 and review the new snapshot",
            path.display()
        );
    }
}

impl fmt::Display for Inventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 6]> = self
            .endpoints
            .iter()
            .map(|entry| {
                [
                    entry.method.clone(),
                    entry.path.clone(),
                    match entry.handler {
                        "" => "-".to_owned(),
                        handler => handler.to_owned(),
                    },
                    entry.access.to_string(),
                    entry.rate.clone(),
                    entry.rate_key.clone(),
                ]
            })
            .collect();
        let header = ["METHOD", "PATH", "HANDLER", "ACCESS", "RATE", "KEY"].map(str::to_owned);
        let mut widths = header.clone().map(|title| title.len());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
                if index + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  "));
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        for warning in &self.warnings {
            writeln!(f, "WARNING: {warning}")?;
        }
        Ok(())
    }
}
