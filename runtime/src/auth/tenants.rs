//! Issuers with many tenants: a template such as
//! `https://login.microsoftonline.com/{tenantid}/v2.0` and the tenants allowed, expanded when
//! the configuration is built into one issuer per tenant.

use std::sync::Arc;

use super::Issuer;
use super::issuer::KeysFrom;

/// Where the tenant goes in an issuer template.
pub(crate) const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// An issuer template and its allowed tenants.
#[derive(Debug)]
pub(crate) struct TenantTemplate {
    template: String,
    /// What comes before the placeholder.
    prefix: String,
    /// What comes after it.
    suffix: String,
    tenants: Vec<String>,
}

/// The tenant an issuer stands for.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    /// The tenant's id, which a token's `tid` must equal.
    pub(crate) id: String,
    /// The template the issuer comes from.
    pub(crate) template: Arc<TenantTemplate>,
}

/// Why an issuer template or its list of tenants is refused (the builder says it as a
/// `ConfigError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateRefusal {
    /// The template does not hold the placeholder exactly once.
    Placeholder,
    /// The list is empty.
    NoTenants,
    /// This tenant id is not one (see [`is_tenant_id`]).
    Tenant(String),
}

/// Whether `id` may be a tenant id: ASCII letters, digits, `.`, `_` and `-`, not empty.
/// Nothing else may go into an issuer identifier (and its discovery URL) in its place.
pub(crate) fn is_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

impl TenantTemplate {
    /// Checks `template` (exactly one placeholder) and `tenants` (at least one, each a
    /// tenant id).
    fn new(template: &str, tenants: &[String]) -> Result<TenantTemplate, TemplateRefusal> {
        let mut parts = template.split(TENANT_PLACEHOLDER);
        let (Some(prefix), Some(suffix), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TemplateRefusal::Placeholder);
        };
        if tenants.is_empty() {
            return Err(TemplateRefusal::NoTenants);
        }
        if let Some(tenant) = tenants.iter().find(|tenant| !is_tenant_id(tenant)) {
            return Err(TemplateRefusal::Tenant(tenant.clone()));
        }
        Ok(TenantTemplate {
            template: template.to_owned(),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            tenants: tenants.to_vec(),
        })
    }

    /// The template, with its placeholder.
    pub(crate) fn template(&self) -> &str {
        &self.template
    }

    /// The allowed tenants, in the order configured.
    pub(crate) fn tenants(&self) -> &[String] {
        &self.tenants
    }

    /// Whether `iss` fits the template: the prefix, something in place of the placeholder,
    /// the suffix. Whether that something is an allowed tenant is not asked.
    pub(crate) fn fits(&self, iss: &str) -> bool {
        iss.len() > self.prefix.len() + self.suffix.len()
            && iss.starts_with(&self.prefix)
            && iss.ends_with(&self.suffix)
    }
}

/// `issuer` itself when it is no template; else one issuer for each of its tenants, named
/// by the template with the tenant in place of the placeholder (as are a JWKS URL and a
/// token URL that hold it), with the tenant it stands for.
pub(crate) fn expand(issuer: Issuer) -> Result<Vec<(Issuer, Option<Tenant>)>, TemplateRefusal> {
    let Some(tenants) = issuer.tenants.clone() else {
        return Ok(vec![(issuer, None)]);
    };
    let template = Arc::new(TenantTemplate::new(issuer.name(), &tenants)?);
    Ok(tenants
        .into_iter()
        .map(|id| {
            let of_tenant = |text: &str| text.replace(TENANT_PLACEHOLDER, &id);
            let mut concrete = issuer.clone();
            concrete.tenants = None;
            concrete.issuer = of_tenant(template.template());
            if let KeysFrom::Url(url) = &concrete.keys_from {
                concrete.keys_from = KeysFrom::Url(of_tenant(url));
            }
            concrete.token_url = concrete.token_url.as_deref().map(of_tenant);
            let tenant = Tenant {
                id,
                template: template.clone(),
            };
            (concrete, Some(tenant))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRA: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

    fn tenants(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn tenant_ids_are_a_safe_charset() {
        for good in [
            "6e2f1a9c-4b7d-4c1e-9a35-0d8b2c7e5f41",
            "contoso.com",
            "a_b",
            "A",
        ] {
            assert!(is_tenant_id(good), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "..%2f",
            "a b",
            "a?b",
            "a#b",
            "a@b",
            "a:b",
            "caf\u{e9}",
            "{tenantid}",
        ] {
            assert!(!is_tenant_id(bad), "{bad}");
        }
    }

    #[test]
    fn templates_hold_one_placeholder_and_some_tenants() {
        for bad in [
            "https://login.microsoftonline.com/v2.0",
            "https://{tenantid}.example/{tenantid}/",
            "https://login.microsoftonline.com/{TenantId}/v2.0",
        ] {
            assert_eq!(
                TenantTemplate::new(bad, &tenants(&["a"])).unwrap_err(),
                TemplateRefusal::Placeholder
            );
        }
        assert_eq!(
            TenantTemplate::new(ENTRA, &[]).unwrap_err(),
            TemplateRefusal::NoTenants
        );
        assert_eq!(
            TenantTemplate::new(ENTRA, &tenants(&["a", "b/../c"])).unwrap_err(),
            TemplateRefusal::Tenant("b/../c".to_owned())
        );
    }

    #[test]
    fn an_issuer_fits_a_template_with_something_in_place_of_the_placeholder() {
        let template = TenantTemplate::new(ENTRA, &tenants(&["a"])).unwrap();
        assert!(template.fits("https://login.microsoftonline.com/a/v2.0"));
        assert!(template.fits("https://login.microsoftonline.com/other/v2.0"));
        assert!(template.fits("https://login.microsoftonline.com/x/y/v2.0"));
        for other in [
            "https://login.microsoftonline.com//v2.0",
            "https://login.microsoftonline.com/v2.0",
            "https://login.microsoftonline.com/a/v2.0/",
            "https://login.microsoftonline.com/a/v1.0",
            "https://sts.windows.net/a/",
            "",
        ] {
            assert!(!template.fits(other), "{other}");
        }
    }

    #[test]
    fn a_template_expands_into_one_issuer_per_tenant() {
        let issuer = Issuer::discover_tenants(ENTRA, ["a", "b"])
            .audience("api")
            .jwks_url("https://login.microsoftonline.com/{tenantid}/discovery/v2.0/keys")
            .token_url("https://login.microsoftonline.com/{tenantid}/oauth2/v2.0/token");
        let expanded = expand(issuer).unwrap();
        let names: Vec<&str> = expanded.iter().map(|(issuer, _)| issuer.name()).collect();
        assert_eq!(
            names,
            [
                "https://login.microsoftonline.com/a/v2.0",
                "https://login.microsoftonline.com/b/v2.0"
            ]
        );
        let (b, tenant) = &expanded[1];
        assert_eq!(tenant.as_ref().map(|tenant| tenant.id.as_str()), Some("b"));
        assert_eq!(b.audiences, ["api"]);
        assert!(b.tenants.is_none());
        assert!(matches!(&b.keys_from,
            KeysFrom::Url(url) if url == "https://login.microsoftonline.com/b/discovery/v2.0/keys"));
        assert_eq!(
            b.token_url.as_deref(),
            Some("https://login.microsoftonline.com/b/oauth2/v2.0/token")
        );
        let plain = expand(Issuer::discover("https://idp.example/")).unwrap();
        assert!(matches!(plain.as_slice(), [(_, None)]));
    }
}
