//! Trims the per-rule metadata of an RVM program that the VM never reads.
//!
//! Why: regorus 0.14.1 clones a rule's whole `RuleInfo` on every rule call, cached or not
//! (its name, and one vector per definition saying which bodies are `else` branches). The
//! VM reads those vectors only through `get(..)` with "absent" meaning "not an `else` body"
//! and "no destructuring block", and reads the name only in listings. So an all-`false`
//! marker list, an all-`None` block list and the name can be dropped without changing what
//! any rule evaluates to, and each rule call then clones a few empty vectors instead of
//! allocating one per definition.

use regorus::rvm::program::Program;

/// Empties what [`Program`]'s rule calls clone but never need; see the module docs.
pub fn slim_rule_infos(program: &mut Program) {
    for info in &mut program.rule_infos {
        info.name = String::new();
        if info.destructuring_blocks.iter().all(Option::is_none) {
            info.destructuring_blocks = Vec::new();
        }
        for bodies in &mut info.else_bodies {
            while bodies.last() == Some(&false) {
                bodies.pop();
            }
            bodies.shrink_to_fit();
        }
        while info.else_bodies.last().is_some_and(Vec::is_empty) {
            info.else_bodies.pop();
        }
        info.else_bodies.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rvm_testing::{program, run};

    #[test]
    fn slimming_changes_no_answer_of_else_chains_partial_rules_or_destructuring() {
        let src = r#"package t
level := "high" if { input.n > 10 } else := "mid" if { input.n > 5 } else := "low"
flags contains "big" if input.n > 10
flags contains "odd" if input.n % 2 == 1
flags contains m if { some m in input.extra }
first(x) := a if { [a, _] := x }
second([_, b]) := b
pair := first(input.pair)
other := second(input.pair)
out := {"level": level, "flags": flags, "pair": pair, "other": other}
"#;
        let entry = "data.t.out";
        let full = program(src, entry);
        let mut slim = full.clone();
        slim_rule_infos(&mut slim);
        assert!(slim.rule_infos.iter().all(|r| r.name.is_empty()));
        assert!(
            slim.rule_infos
                .iter()
                .any(|r| r.else_bodies.iter().any(|b| b.contains(&true))),
            "the else chain keeps its markers"
        );
        assert!(
            slim.rule_infos
                .iter()
                .any(|r| r.destructuring_blocks.iter().any(Option::is_some)),
            "a destructuring parameter keeps its block"
        );
        assert!(
            full.rule_infos
                .iter()
                .zip(&slim.rule_infos)
                .any(|(f, s)| f.else_bodies.len() > s.else_bodies.len()),
            "all-false markers are dropped"
        );
        for input in [
            r#"{"n": 11, "extra": ["x"], "pair": [1, 2]}"#,
            r#"{"n": 7, "pair": ["a", "b"]}"#,
            r#"{"n": 2, "pair": [1]}"#,
            r#"{"n": 3}"#,
            "{}",
        ] {
            assert_eq!(
                run(&slim, entry, input),
                run(&full, entry, input),
                "{input}"
            );
        }
        assert_eq!(
            run(&slim, entry, r#"{"n": 7, "pair": [1, 2]}"#).to_string(),
            r#"{"flags":["odd"],"level":"mid","other":2,"pair":1}"#
        );
    }
}
