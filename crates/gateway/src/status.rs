//! The one place where errors become gRPC statuses.
//!
//! Every domain error reaches the client through [`status`]: its [`ErrorCode`] picks the gRPC code, its
//! [`Reason`] becomes a `google.rpc.ErrorInfo` (domain [`DOMAIN`]) that clients branch on, field violations
//! become a `google.rpc.BadRequest` and retry delays a `google.rpc.RetryInfo`. Internal and unavailable
//! errors are logged here with their full text and replaced by a generic message, so no database or crypto
//! detail ever reaches a client.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};
use types::{DomainError, ErrorCode, FieldViolation, Reason, Violations};

/// The `domain` of every `google.rpc.ErrorInfo` Parley sends.
pub(crate) const DOMAIN: &str = "parley.chat";

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
        ErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorCode::Internal => Code::Internal,
    }
}

/// The status a client sees for `e`.
pub(crate) fn status(e: &(impl DomainError + ?Sized)) -> Status {
    let c = e.code();
    let message = match c {
        ErrorCode::Internal => {
            tracing::error!(error = %e, "internal error");
            "internal error; it has been logged".to_owned()
        }
        ErrorCode::Unavailable => {
            tracing::warn!(error = %e, "dependency unavailable");
            "the service is temporarily unavailable; retry shortly".to_owned()
        }
        ErrorCode::DeadlineExceeded => {
            tracing::warn!(error = %e, "deadline exceeded");
            "the server took too long to answer; retry shortly".to_owned()
        }
        _ => e.to_string(),
    };
    let retry = if c.is_internal() { None } else { e.retry_after() };
    with_details(code(c), message, e.reason(), e.field_violations(), retry)
}

fn with_details(
    code: Code,
    message: String,
    reason: Reason,
    violations: &[FieldViolation],
    retry: Option<Duration>,
) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason.as_str(), DOMAIN, HashMap::<String, String>::new());
    for v in violations {
        details.add_bad_request_violation(v.field, v.description.clone());
    }
    if let Some(delay) = retry {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(code, message, details)
}

/// INVALID_ARGUMENT for a request field the gateway itself rejects while converting (a malformed id, an
/// unknown enum value), with the same details a domain error would carry.
pub(crate) fn invalid(field: &'static str, description: impl Into<String>) -> Status {
    status(&Violations::from(FieldViolation::new(field, description)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_carries_its_reason_and_internal_text_stays_inside() {
        let s = status(&storage::Error::Unavailable("connection refused by db.internal:3306".into()));
        assert_eq!(s.code(), Code::Unavailable);
        assert!(!s.message().contains("db.internal"), "{}", s.message());
        assert_eq!(s.get_details_error_info().map(|i| i.reason), Some("UNAVAILABLE".to_owned()));

        let s = invalid("room_id", "is not a valid id");
        let info = s.get_details_error_info();
        assert_eq!(info.as_ref().map(|i| (i.reason.as_str(), i.domain.as_str())), Some(("FIELD_INVALID", DOMAIN)));
        assert_eq!(s.get_details_bad_request().map(|b| b.field_violations.len()), Some(1));
    }

    #[test]
    fn the_protos_list_every_reason() {
        // chat.v1.ErrorReason documents each reason as ERROR_REASON_<reason>; clients rely on the list.
        let highest = api::v1::ErrorReason::from_str_name("ERROR_REASON_ACCOUNT_DISABLED").map(|r| r as usize);
        assert_eq!(highest, Some(Reason::ALL.len()), "one value per reason (the newest is ACCOUNT_DISABLED)");
        for reason in Reason::ALL {
            let name = format!("ERROR_REASON_{}", reason.as_str());
            assert!(api::v1::ErrorReason::from_str_name(&name).is_some(), "{name} is missing from errors.proto");
        }
    }
}
