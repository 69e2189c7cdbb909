//! How long Portcullis waits on Redis.

use std::time::Duration;

/// How long one Redis call may take before it counts as a failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

/// How long Redis is left alone after a failure before it is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// How long one read of the revocation feed waits for an entry before Redis answers that
/// none came.
pub(crate) const BLOCK: Duration = Duration::from_millis(1000);
