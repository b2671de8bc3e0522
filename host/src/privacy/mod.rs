//! Data-subject rights (GDPR, CCPA, PIPL): the rules a request follows. So far the pure parts
//! the rest builds on: when each regime wants an answer ([`deadline`]) and the states a request
//! moves through ([`request`]). Storage, screens, exports and erasure across plugins come next
//! (issue 21).

pub mod deadline;
pub mod request;
