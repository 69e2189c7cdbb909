//! The compile-time checks that `#[secure]` and `#[public]` generate for a handler's
//! arguments and output, with messages that name the mistake and its fix. (That the
//! handler's future is `Send` is a bound of the generated signature.)
//!
//! The argument checks go by the argument's type, not by how it is spelt, so that a type
//! alias or a re-export is caught like the type itself. Each check is a probe on the type:
//! a method found through auto-referencing picks, for a type with the property, a result
//! type that fails a bound carrying the message, and for any other type a result that
//! meets it.

use std::marker::PhantomData;

use crate::auth::VerifiedCaller;
use crate::input::BodyExtractor;

/// A probe on the type of one handler argument.
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    /// The probe of `T`.
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<T> Default for Probe<T> {
    fn default() -> Self {
        Probe::new()
    }
}

/// What a probe finds for an argument that breaks no rule.
pub struct Accepted;

/// What a probe finds for an argument of a `#[public]` endpoint that needs a verified
/// caller.
pub struct NeedsCaller<T>(PhantomData<fn() -> T>);

/// What a probe finds for a body extractor that is not the last argument.
pub struct BodyBeforeLast<T>(PhantomData<fn() -> T>);

/// The probe of a `#[public]` endpoint's argument, for a type that needs a verified caller.
pub trait ProbeCaller<T> {
    /// A result that fails [`PublicArgument`].
    fn public_argument(&self) -> NeedsCaller<T>;
}

impl<T: VerifiedCaller> ProbeCaller<T> for Probe<T> {
    fn public_argument(&self) -> NeedsCaller<T> {
        NeedsCaller(PhantomData)
    }
}

/// The probe of a `#[public]` endpoint's argument, for any other type.
pub trait ProbeNoCaller {
    /// A result that meets [`PublicArgument`].
    fn public_argument(&self) -> Accepted;
}

impl<T> ProbeNoCaller for &Probe<T> {
    fn public_argument(&self) -> Accepted {
        Accepted
    }
}

/// The probe of an argument before the last, for a body extractor.
pub trait ProbeBody<T> {
    /// A result that fails [`BeforeLastArgument`].
    fn before_last_argument(&self) -> BodyBeforeLast<T>;
}

impl<T: BodyExtractor> ProbeBody<T> for Probe<T> {
    fn before_last_argument(&self) -> BodyBeforeLast<T> {
        BodyBeforeLast(PhantomData)
    }
}

/// The probe of an argument before the last, for any other type.
pub trait ProbeNoBody {
    /// A result that meets [`BeforeLastArgument`].
    fn before_last_argument(&self) -> Accepted;
}

impl<T> ProbeNoBody for &Probe<T> {
    fn before_last_argument(&self) -> Accepted {
        Accepted
    }
}

/// An argument a `#[public]` endpoint can take: anything but a verified caller.
#[diagnostic::on_unimplemented(
    message = "a `#[public]` endpoint verifies no caller, so it cannot take `{T}`",
    label = "this argument needs a verified access token",
    note = "take `Option<{T}>` to serve callers who send a token anyway, \
            or make the endpoint `#[secure(...)]`"
)]
pub trait PublicArgument<T> {}

impl<T> PublicArgument<T> for Accepted {}

/// An argument that can come before the last: anything but a body extractor.
#[diagnostic::on_unimplemented(
    message = "`{T}` reads the request body, so it must be the handler's last argument",
    label = "move this argument to the end of the list",
    note = "a request has one body: the extractors before the last read only the method, \
            the URI, the headers and the extensions"
)]
pub trait BeforeLastArgument<T> {}

impl<T> BeforeLastArgument<T> for Accepted {}

/// Checks the result of a `#[public]` endpoint's argument probe.
pub fn public_argument<T, R: PublicArgument<T>>(_: R) {}

/// Checks the result of the probe of an argument before the last.
pub fn before_last_argument<T, R: BeforeLastArgument<T>>(_: R) {}

/// What a handler returns: a response.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a response, so a handler cannot return it",
    label = "this output does not implement `axum::response::IntoResponse`",
    note = "return `Json<{Self}>` for a body of JSON, a `String`, a `StatusCode`, \
            a `Result<_, ApiError>`, or implement `IntoResponse` for `{Self}`"
)]
pub trait HandlerResponse {}

impl<T: axum::response::IntoResponse> HandlerResponse for T {}

/// Checks that a handler's output is a response.
pub fn handler_response<T: HandlerResponse>() {}

/// The metadata of the stand-in that `#[secure]` and `#[public]` emit for a function they
/// cannot wrap (a generic function, a method): `routes!` accepts its name, so that the
/// mistake, reported on the function, is the one error. A crate with such a mistake does
/// not compile, so the stand-in never serves.
pub struct StandIn;

fn document_nothing(_: &mut crate::openapi::OperationDoc<'_>) {}

impl crate::endpoint::EndpointMeta for StandIn {
    const SPEC: &'static crate::endpoint::EndpointSpec = &crate::endpoint::EndpointSpec {
        handler: "",
        module: "",
        method: crate::endpoint::HttpMethod::Get,
        path: "/",
        path_params: &[],
        access: crate::endpoint::Access::Public,
        rate: crate::rate::EndpointRate::Default,
        rate_key: crate::rate::RateKeyKind::Ip,
        body_limit: None,
        summary: None,
        description: None,
        tags: &[],
        operation_id: None,
        success_status: None,
        errors: &[],
        document: document_nothing,
    };
}

/// The stand-in's future.
pub fn stand_in() -> crate::endpoint::EndpointFuture<std::future::Ready<()>, StandIn> {
    crate::endpoint::EndpointFuture::new(std::future::ready(()))
}
