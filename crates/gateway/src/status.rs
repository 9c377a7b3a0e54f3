//! The one place where errors become gRPC statuses.
//!
//! Every domain error reaches the client through [`status`]: its [`ErrorCode`] picks the gRPC code, field
//! violations become a `google.rpc.BadRequest` and retry delays a `google.rpc.RetryInfo` in the status
//! details. Internal and unavailable errors are logged here with their full text and replaced by a generic
//! message, so no database or crypto detail ever reaches a client.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};
use types::{DomainError, ErrorCode, FieldViolation};

fn code(c: ErrorCode) -> Code {
    match c {
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::ResourceExhausted => Code::ResourceExhausted,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::Internal => Code::Internal,
    }
}

/// The status a client sees for `e`.
pub(crate) fn status(e: &(impl DomainError + ?Sized)) -> Status {
    let c = e.code();
    match c {
        ErrorCode::Internal => {
            tracing::error!(error = %e, "internal error");
            Status::internal("internal error; it has been logged")
        }
        ErrorCode::Unavailable => {
            tracing::warn!(error = %e, "dependency unavailable");
            Status::unavailable("the service is temporarily unavailable; retry shortly")
        }
        _ => with_details(code(c), e.to_string(), e.field_violations(), e.retry_after()),
    }
}

fn with_details(code: Code, message: String, violations: &[FieldViolation], retry: Option<Duration>) -> Status {
    if violations.is_empty() && retry.is_none() {
        return Status::new(code, message);
    }
    let mut details = ErrorDetails::new();
    for v in violations {
        details.add_bad_request_violation(v.field, v.description.clone());
    }
    if let Some(delay) = retry {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(code, message, details)
}

/// INVALID_ARGUMENT for request fields the gateway itself rejects while converting (a malformed id, an
/// unknown enum value), with the same details a domain error would carry.
pub(crate) fn invalid(field: &'static str, description: impl Into<String>) -> Status {
    let description = description.into();
    let message = format!("invalid request: {field}: {description}");
    with_details(Code::InvalidArgument, message, &[FieldViolation::new(field, description)], None)
}
