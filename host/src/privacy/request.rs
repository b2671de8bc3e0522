//! What a data-subject request asks for, and the states it moves through:
//!
//! ```text
//! received ──verify──▶ verified ──start──▶ in_progress ──complete──▶ completed
//!     │                   │  └──extend──▶ extended ◀──extend──┘          ▲
//!     │                   │                  └──────complete─────────────┘
//!     └──────refuse───────┴───────── refuse (from any open state) ──▶ refused
//! ```
//!
//! A request is worked on only once the person's identity is verified; it may be extended once,
//! with a reason, and refused with a reason at any point before it is completed.

use serde::{Deserialize, Serialize};

/// The right a person exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A copy of what is held (GDPR Art. 15, CCPA right to know, PIPL Art. 45).
    Access,
    /// The same, machine-readable, to take elsewhere.
    Portability,
    Rectification,
    Erasure,
    /// Stored but not processed.
    Restriction,
    /// Objection to processing, or opting out of marketing ("do not sell or share").
    Objection,
}

impl Kind {
    /// Every kind, in the order staff see them.
    pub const ALL: [Kind; 6] = [
        Kind::Access,
        Kind::Portability,
        Kind::Rectification,
        Kind::Erasure,
        Kind::Restriction,
        Kind::Objection,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Received,
    Verified,
    InProgress,
    Extended,
    Completed,
    Refused,
}

/// What staff do to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Verify,
    Start,
    Extend,
    Complete,
    Refuse,
}

impl State {
    /// Whether the request still waits on staff.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Completed | Self::Refused)
    }

    /// The state `step` leads to, or why it cannot be taken from here.
    pub fn after(self, step: Step) -> Result<State, String> {
        use {State::*, Step::*};
        match (self, step) {
            (Received, Verify) => Ok(Verified),
            (Verified, Start) => Ok(InProgress),
            (Verified | InProgress, Extend) => Ok(Extended),
            (InProgress | Extended, Complete) => Ok(Completed),
            (s, Refuse) if s.is_open() => Ok(Refused),
            (Extended, Extend) => Err("the request was already extended once".into()),
            (Received, _) => Err("the person's identity must be verified first".into()),
            (s, _) if !s.is_open() => Err(format!("the request is already {}", s.name())),
            (s, step) => Err(format!("a {} request cannot {}", s.name(), step.name())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Verified => "verified",
            Self::InProgress => "in progress",
            Self::Extended => "extended",
            Self::Completed => "completed",
            Self::Refused => "refused",
        }
    }
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Self::Verify => "be verified",
            Self::Start => "be started",
            Self::Extend => "be extended",
            Self::Complete => "be completed",
            Self::Refuse => "be refused",
        }
    }

    /// Whether the step must say why (an extension or a refusal is explained to the person).
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Extend | Self::Refuse)
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    /// A kind by its API name, for the command line.
    fn from_str(s: &str) -> Result<Self, String> {
        super::from_name(s).ok_or_else(|| {
            format!("`{s}` is not a kind: access, portability, rectification, erasure, restriction or objection")
        })
    }
}

impl std::str::FromStr for Step {
    type Err = String;

    /// A step by its API name, for the command line.
    fn from_str(s: &str) -> Result<Self, String> {
        super::from_name(s).ok_or_else(|| {
            format!("`{s}` is not a step: verify, start, extend, complete or refuse")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{State::*, Step::*};

    #[test]
    fn a_request_is_verified_before_work_extended_once_and_closed_for_good() {
        let path = [Verify, Start, Extend, Complete];
        let end = path
            .iter()
            .try_fold(Received, |s, step| s.after(*step))
            .unwrap();
        assert_eq!(end, Completed);
        assert_eq!(Verified.after(Extend), Ok(Extended));
        for (from, step) in [(Received, Start), (Received, Complete), (Received, Extend)] {
            let e = from.after(step).unwrap_err();
            assert!(e.contains("verified first"), "{from:?} {step:?}: {e}");
        }
        assert!(
            Extended
                .after(Extend)
                .unwrap_err()
                .contains("already extended")
        );
        assert_eq!(
            Verified.after(Complete).unwrap_err(),
            "a verified request cannot be completed"
        );
        for open in [Received, Verified, InProgress, Extended] {
            assert_eq!(open.after(Refuse), Ok(Refused));
        }
        for closed in [Completed, Refused] {
            for step in [Verify, Start, Extend, Complete, Refuse] {
                let e = closed.after(step).unwrap_err();
                assert!(e.contains("already"), "{closed:?} {step:?}: {e}");
            }
        }
        assert!(Extend.needs_reason() && Refuse.needs_reason() && !Complete.needs_reason());
    }
}
