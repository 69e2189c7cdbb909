//! Which issuer's endpoint an opaque token goes to: the one whose token prefix it starts
//! with, or the only issuer that introspects when it names no prefix. A token is never
//! sent to more than one endpoint, nor to a provider that did not issue it.

use super::settings::IntrospectionConfigError;

/// Checks, when the configuration is built, that every token has at most one endpoint:
/// `issuers` are the (name, token prefix) of the issuers that introspect.
pub(crate) fn check_routes(
    issuers: &[(&str, Option<&str>)],
) -> Result<(), IntrospectionConfigError> {
    for (_, prefix) in issuers {
        if let Some(prefix) = prefix
            && (prefix.is_empty() || !prefix.bytes().all(|byte| byte.is_ascii_graphic()))
        {
            return Err(IntrospectionConfigError::Prefix((*prefix).to_owned()));
        }
    }
    if issuers.len() > 1 && issuers.iter().any(|(_, prefix)| prefix.is_none()) {
        return Err(IntrospectionConfigError::Ambiguous(
            issuers.iter().map(|(name, _)| (*name).to_owned()).collect(),
        ));
    }
    for (index, (_, a)) in issuers.iter().enumerate() {
        for (_, b) in &issuers[index + 1..] {
            if let (Some(a), Some(b)) = (a, b)
                && (a.starts_with(b) || b.starts_with(a))
            {
                return Err(IntrospectionConfigError::OverlappingPrefixes(
                    (*a).to_owned(),
                    (*b).to_owned(),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `token` has the shape of a compact JWS (three parts): such a token is verified
/// as a JWT, never introspected, unless an issuer's prefix claims it.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|byte| *byte == b'.').count() == 2
}

/// The issuer that takes `token`, among `prefixes` (those of the issuers that introspect,
/// in order), or `None` when it goes to none of them.
pub(crate) fn route<'p>(
    token: &str,
    prefixes: impl IntoIterator<Item = (usize, Option<&'p str>)>,
) -> Option<usize> {
    let mut fallback = None;
    for (index, prefix) in prefixes {
        match prefix {
            Some(prefix) if token.starts_with(prefix) => return Some(index),
            Some(_) => {}
            None => fallback = Some(index),
        }
    }
    fallback.filter(|_| !looks_like_jwt(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_issuers_need_prefixes_that_do_not_overlap() {
        assert_eq!(check_routes(&[]), Ok(()));
        assert_eq!(check_routes(&[("a", None)]), Ok(()));
        assert_eq!(
            check_routes(&[("a", Some("pat_")), ("b", Some("gho_"))]),
            Ok(())
        );
        assert_eq!(
            check_routes(&[("a", Some("pat_")), ("b", None)]),
            Err(IntrospectionConfigError::Ambiguous(vec![
                "a".into(),
                "b".into()
            ]))
        );
        assert_eq!(
            check_routes(&[("a", Some("pat")), ("b", Some("pat_x"))]),
            Err(IntrospectionConfigError::OverlappingPrefixes(
                "pat".into(),
                "pat_x".into()
            ))
        );
        assert_eq!(
            check_routes(&[("a", Some(""))]),
            Err(IntrospectionConfigError::Prefix(String::new()))
        );
        assert_eq!(
            check_routes(&[("a", Some("a b"))]),
            Err(IntrospectionConfigError::Prefix("a b".into()))
        );
    }

    #[test]
    fn a_token_goes_to_one_issuer_at_most() {
        let sole = [(3, None)];
        assert_eq!(route("2YotnFZFEjr1zCsicMWpAA", sole), Some(3));
        assert_eq!(route("eyJh.eyJz.c2ln", sole), None);
        let prefixed = [(0, Some("pat_")), (1, Some("gho_"))];
        assert_eq!(
            route("gho_16C7e42F292c6912E7710c838347Ae178B4a", prefixed),
            Some(1)
        );
        assert_eq!(route("pat_x", prefixed), Some(0));
        assert_eq!(route("ghp_x", prefixed), None);
        assert_eq!(route("x.y.z", prefixed), None);
        let one_prefixed = [(0, Some("pat_"))];
        assert_eq!(route("pat_a.b.c", one_prefixed), Some(0));
        assert_eq!(route("opaque", one_prefixed), None);
    }
}
