//! Test helpers shared by the RVM program passes (`fold`, `slim`).

use regorus::Value;
use regorus::rvm::program::Program;
use std::sync::Arc;

/// `src` compiled to an RVM program for `entry`, with no pass applied.
pub fn program(src: &str, entry: &str) -> Program {
    let mut engine = regorus::Engine::new();
    engine.add_policy("p.rego".into(), src.into()).unwrap();
    let policy = engine
        .compile_with_entrypoint(&regorus::Rc::from(entry))
        .unwrap();
    let p = regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &[entry])
        .unwrap();
    (*p).clone()
}

/// `entry` of `p` evaluated on a fresh VM with `input` (JSON).
pub fn run(p: &Program, entry: &str, input: &str) -> Value {
    let mut vm = regorus::rvm::RegoVM::new();
    vm.load_program(Arc::new(p.clone()));
    vm.set_input(Value::from_json_str(input).unwrap());
    vm.execute_entry_point_by_name(entry).unwrap()
}
