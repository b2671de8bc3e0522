//! Constant folding of RVM programs: rules whose value depends on nothing but the policy
//! (tables such as `action_roles := {...}`, sets built from other such rules) are evaluated
//! once at build time, and every call of such a rule becomes a load of its value.
//!
//! Why: the module builds a fresh VM per evaluation (nothing may outlive an evaluation's
//! heap), so without this every decision rebuilds every table it touches, and a rule call
//! is the RVM's most expensive instruction. On the platform baseline this removes about a
//! quarter of the instructions of a decision.
//!
//! A rule is constant when none of its bodies reads `input` or `data`, calls a function or a
//! builtin whose result is not fixed by its arguments (`time.now_ns`, `rand.*`, `http.send`,
//! …), or calls a rule that is not itself constant. The value is computed by the same RVM on
//! the same program, so the folded module answers exactly as the unfolded one; a rule whose
//! evaluation fails, exceeds its budget or is undefined is left alone.

use regorus::Value;
use regorus::rvm::instructions::Instruction;
use regorus::rvm::program::Program;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::sync::Arc;

/// Builtins whose result is not a function of their arguments (by name prefix).
const IMPURE_BUILTINS: &[&str] = &[
    "time.",
    "rand.",
    "uuid.",
    "http.",
    "net.lookup_ip_addr",
    "opa.runtime",
    "trace",
    "print",
    "io.jwt.decode_verify",
    "crypto.x509.parse_and_verify",
];

/// Instructions a constant rule may execute at build time.
const FOLD_BUDGET: usize = 100_000;

/// Folds the constant rules of `program`; returns the names of the rules folded.
pub fn fold_constants(program: &mut Program, strict_builtin_errors: bool) -> Vec<String> {
    let values = evaluate(program, &constant_rules(program), strict_builtin_errors);
    // Rule index → index of its value in the literal table.
    let mut literals: BTreeMap<u16, u16> = BTreeMap::new();
    for (rule, v) in values {
        let Ok(idx) = u16::try_from(program.add_literal(v)) else {
            break; // literal table full: leave the remaining calls as they are
        };
        literals.insert(rule, idx);
    }
    for ins in program.instructions.iter_mut() {
        if let Instruction::CallRule { dest, rule_index } = *ins
            && let Some(&literal_idx) = literals.get(&rule_index)
        {
            *ins = Instruction::Load { dest, literal_idx };
        }
    }
    literals
        .keys()
        .map(|&r| program.rule_infos[usize::from(r)].name.clone())
        .collect()
}

/// The values of `rules` that evaluate to something, computed on one copy of the program with
/// an entry point per rule, each in a fresh VM (as at run time, nothing is cached across them).
fn evaluate(program: &Program, rules: &BTreeSet<u16>, strict: bool) -> BTreeMap<u16, Value> {
    let entry = |rule: u16| format!("__fold/{rule}");
    let mut probe = program.clone();
    for &rule in rules {
        let pc = probe.instructions.len();
        // The shape of the compiler's own entry stubs: call into r1, return r1.
        probe.instructions.extend([
            Instruction::CallRule {
                dest: 1,
                rule_index: rule,
            },
            Instruction::Return { value: 1 },
        ]);
        probe.instruction_spans.extend([None, None]);
        probe.entry_points.insert(entry(rule), pc);
    }
    let probe = Arc::new(probe);
    rules
        .iter()
        .filter_map(|&rule| {
            let mut vm = regorus::rvm::RegoVM::new();
            vm.load_program(probe.clone());
            vm.set_strict_builtin_errors(strict);
            vm.set_max_instructions(FOLD_BUDGET);
            match vm.execute_entry_point_by_name(&entry(rule)) {
                Ok(Value::Undefined) | Err(_) => None,
                Ok(v) => Some((rule, v)),
            }
        })
        .collect()
}

/// One body: from its entry (`RuleInit`) to its `RuleReturn`.
fn body(program: &Program, entry: u32) -> Option<RangeInclusive<usize>> {
    let start = usize::try_from(entry).ok()?;
    let end = program
        .instructions
        .get(start..)?
        .iter()
        .position(|i| matches!(i, Instruction::RuleReturn {}))?;
    Some(start..=start + end)
}

/// Indexes of the rules (not functions) whose value depends on nothing but the program.
fn constant_rules(program: &Program) -> BTreeSet<u16> {
    let mut constant = BTreeSet::new();
    loop {
        let before = constant.len();
        for (i, rule) in program.rule_infos.iter().enumerate() {
            let Ok(i) = u16::try_from(i) else { break };
            if constant.contains(&i)
                || rule.function_info.is_some()
                || rule.destructuring_blocks.iter().any(Option::is_some)
            {
                continue;
            }
            let pure = rule.definitions.iter().flatten().all(|&entry| {
                body(program, entry).is_some_and(|range| {
                    range
                        .clone()
                        .all(|pc| pure_instruction(program, pc, i, &range, &constant))
                })
            });
            if pure {
                constant.insert(i);
            }
        }
        if constant.len() == before {
            return constant;
        }
    }
}

/// Whether the instruction at `pc`, in a body of `rule` spanning `range`, reads only the
/// program and jumps only within the body.
fn pure_instruction(
    program: &Program,
    pc: usize,
    rule: u16,
    range: &RangeInclusive<usize>,
    constant: &BTreeSet<u16>,
) -> bool {
    let inside = |target: u16| range.contains(&usize::from(target));
    let data = &program.instruction_data;
    match &program.instructions[pc] {
        Instruction::LoadInput { .. }
        | Instruction::LoadData { .. }
        | Instruction::LoadContext { .. }
        | Instruction::LoadMetadata { .. }
        | Instruction::VirtualDataDocumentLookup { .. }
        | Instruction::HostAwait { .. }
        | Instruction::FunctionCall { .. }
        | Instruction::Halt {}
        | Instruction::Return { .. } => false,
        Instruction::RuleInit { rule_index, .. } => *rule_index == rule && pc == *range.start(),
        Instruction::CallRule { rule_index, .. } => constant.contains(rule_index),
        Instruction::BuiltinCall { params_index } => data
            .builtin_call_params
            .get(usize::from(*params_index))
            .and_then(|b| program.builtin_info_table.get(usize::from(b.builtin_index)))
            .is_some_and(|b| !IMPURE_BUILTINS.iter().any(|p| b.name.starts_with(p))),
        Instruction::LoopStart { params_index } => data
            .loop_params
            .get(usize::from(*params_index))
            .is_some_and(|l| inside(l.body_start) && inside(l.loop_end)),
        Instruction::LoopNext {
            body_start,
            loop_end,
        } => inside(*body_start) && inside(*loop_end),
        Instruction::ComprehensionBegin { params_index } => data
            .comprehension_begin_params
            .get(usize::from(*params_index))
            .is_some_and(|c| inside(c.body_start) && inside(c.comprehension_end)),
        Instruction::LogicalBlockStart { end_pc, .. }
        | Instruction::AllOfNext { end_pc, .. }
        | Instruction::AnyOfNext { end_pc, .. } => inside(*end_pc),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rvm_testing::{program, run};

    #[test]
    fn tables_fold_and_what_reads_input_or_the_clock_does_not() {
        let src = r#"package t
roles := {"admin", "sales"}
more := roles | {"support"}
table := {"read": more, "write": {"admin"}}
now := time.now_ns()
action := input.action
through_input := x if { x := table[input.action] }
size := count([1 | some r in more])
uses_data := data.other.x
allowed if { "admin" in table[input.action] }
out := {"allowed": allowed, "size": size, "through": through_input, "now": now > 0}
"#;
        let entry = "data.t.out";
        let mut p = program(src, entry);
        let before = run(&p, entry, r#"{"action": "read"}"#);
        let mut folded = fold_constants(&mut p, true);
        folded.sort();
        assert_eq!(
            folded,
            ["data.t.more", "data.t.roles", "data.t.size", "data.t.table"]
        );
        let unfolded = program(src, entry);
        for input in [r#"{"action": "read"}"#, r#"{"action": "write"}"#, "{}"] {
            assert_eq!(
                run(&p, entry, input),
                run(&unfolded, entry, input),
                "{input}"
            );
        }
        assert_eq!(fold_constants(&mut unfolded.clone(), true).len(), 4);
        assert_eq!(before, run(&p, entry, r#"{"action": "read"}"#));
        assert!(
            !p.instructions.iter().any(|i| matches!(i,
                Instruction::CallRule { rule_index, .. }
                    if p.rule_infos[usize::from(*rule_index)].name == "data.t.table")),
            "every call of a folded rule is a load"
        );
    }

    #[test]
    fn a_rule_that_fails_or_is_undefined_is_left_to_run_time() {
        let src = r#"package t
bad := 1 / 0
nothing if { false }
out := {"bad": bad, "nothing": nothing}
"#;
        let mut p = program(src, "data.t.out");
        assert!(fold_constants(&mut p, true).is_empty());
    }

    #[test]
    fn the_platform_baseline_folds_its_tables_and_nothing_that_reads_the_request() {
        let src = include_str!("../../platform/authz.rego");
        let entry = "data.crm.authz.decision";
        let mut p = program(src, entry);
        let folded = fold_constants(&mut p, true);
        println!("{} rules folded: {folded:?}", folded.len());
        for table in [
            "action_roles",
            "all_roles",
            "role_view",
            "role_writable",
            "mfa_actions",
        ] {
            assert!(
                folded.contains(&format!("data.crm.authz.{table}")),
                "{table}"
            );
        }
        for derived in [
            "permitted_roles",
            "deny_reasons",
            "subject_roles",
            "allow",
            "decision",
        ] {
            assert!(
                !folded.contains(&format!("data.crm.authz.{derived}")),
                "{derived}"
            );
        }
    }
}
