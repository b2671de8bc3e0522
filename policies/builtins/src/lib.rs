//! OPA builtins that regorus 0.14.1 lacks, registered as regorus extensions
//! ([`regorus::Engine::add_extension`]). The same code runs natively (the host's
//! `RegorusEngine` and `crm policy test`) and inside compiled modules
//! (`policies/runtime`), so both sides give the same answers.
//!
//! It also replaces the builtins where regorus answers differently from OPA:
//! `json.is_valid` and `yaml.is_valid` are `false` for a non-string, where
//! regorus raises a type error.
//!
//! Extensions exist only in the regorus interpreter: a policy that calls one
//! is rejected by the RVM compiler and compiled for the in-module interpreter.

use anyhow::{Result, bail};
use regorus::Value;

/// `(name, arity)` of every builtin added by [`register`].
pub const EXTENSIONS: &[(&str, u8)] = &[
    ("array.flatten", 1),
    ("strings.split_n", 3),
    ("json.is_valid", 1),
    #[cfg(feature = "yaml")]
    ("yaml.is_valid", 1),
];

/// Adds every builtin of this crate to `engine`.
pub fn register(engine: &mut regorus::Engine) -> Result<()> {
    engine.add_extension(
        "array.flatten".into(),
        1,
        Box::new(|a: Vec<Value>| array_flatten(&a)),
    )?;
    engine.add_extension(
        "strings.split_n".into(),
        3,
        Box::new(|a: Vec<Value>| strings_split_n(&a)),
    )?;
    engine.add_extension(
        "json.is_valid".into(),
        1,
        Box::new(|a: Vec<Value>| Ok(is_valid(&a, |s| Value::from_json_str(s).is_ok()))),
    )?;
    #[cfg(feature = "yaml")]
    engine.add_extension(
        "yaml.is_valid".into(),
        1,
        Box::new(|a: Vec<Value>| Ok(is_valid(&a, yaml_parses))),
    )?;
    Ok(())
}

/// A YAML stream is valid when every document in it is (OPA's answer; regorus's own parser
/// refuses a stream of several documents).
#[cfg(feature = "yaml")]
fn yaml_parses(s: &str) -> bool {
    use serde::Deserialize;
    Value::from_yaml_str(s).is_ok()
        || yaml_serde::Deserializer::from_str(s).all(|doc| Value::deserialize(doc).is_ok())
}

/// `json.is_valid` / `yaml.is_valid`: whether a string parses; `false` for anything that is
/// not a string (OPA's answer, in strict mode too).
fn is_valid(args: &[Value], parses: impl Fn(&str) -> bool) -> Value {
    Value::Bool(matches!(args, [Value::String(s)] if parses(s)))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::Object(_) => "object",
        Value::Undefined => "undefined",
    }
}

fn arg<'a>(name: &str, args: &'a [Value], i: usize, n: usize) -> Result<&'a Value> {
    if args.len() != n {
        bail!("{name}: expects {n} arguments, got {}", args.len());
    }
    Ok(&args[i])
}

/// `array.flatten(arr)`: the elements of `arr`, with every element that is an
/// array replaced by its own elements (one level deep).
pub fn array_flatten(args: &[Value]) -> Result<Value> {
    let Value::Array(a) = arg("array.flatten", args, 0, 1)? else {
        bail!(
            "array.flatten: operand 1 must be array but got {}",
            type_name(&args[0])
        );
    };
    let mut out = Vec::with_capacity(a.len());
    for v in a.iter() {
        match v {
            Value::Array(inner) => out.extend(inner.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    Ok(Value::from(out))
}

/// `strings.split_n(s, delimiter, n)`: `s` split at every `delimiter` (at every
/// character when it is empty); the first `n` parts when `n > 0`, the last `-n`
/// when `n < 0`, none when `n == 0`.
pub fn strings_split_n(args: &[Value]) -> Result<Value> {
    let name = "strings.split_n";
    let Value::String(s) = arg(name, args, 0, 3)? else {
        bail!(
            "{name}: operand 1 must be string but got {}",
            type_name(&args[0])
        );
    };
    let Value::String(d) = &args[1] else {
        bail!(
            "{name}: operand 2 must be string but got {}",
            type_name(&args[1])
        );
    };
    let n = match &args[2] {
        Value::Number(n) if n.is_integer() => match n.as_i64() {
            Some(n) => n,
            None => bail!("{name}: operand 3 is out of range"),
        },
        Value::Number(_) => {
            bail!("{name}: operand 3 must be integer number but got floating-point number")
        }
        other => bail!(
            "{name}: operand 3 must be number but got {}",
            type_name(other)
        ),
    };
    // Go's strings.Split: "" with "" gives no parts; "" with a delimiter gives [""].
    let parts: Vec<&str> = if d.is_empty() {
        s.char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect()
    } else {
        s.split(&**d).collect()
    };
    let len = parts.len();
    let k = usize::try_from(n.unsigned_abs())
        .unwrap_or(usize::MAX)
        .min(len);
    let chosen = if n >= 0 {
        &parts[..k]
    } else {
        &parts[len - k..]
    };
    Ok(Value::from(
        chosen.iter().map(|p| Value::from(*p)).collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str, d: &str, n: i64) -> Vec<String> {
        let v = strings_split_n(&[Value::from(s), Value::from(d), Value::from(n)]).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_string().unwrap().to_string())
            .collect()
    }

    #[test]
    fn split_n_like_opa() {
        assert_eq!(split("a.b.c.d", ".", 2), ["a", "b"]);
        assert_eq!(split("a.b.c.d", ".", 10), ["a", "b", "c", "d"]);
        assert_eq!(split("a.b.c.d", ".", 0), Vec::<String>::new());
        assert_eq!(split("a.b.c.d", ".", -2), ["c", "d"]);
        assert_eq!(split("a.b.c.d", ".", -10), ["a", "b", "c", "d"]);
        assert_eq!(split("abc", ".", -2), ["abc"]);
        assert_eq!(split("", ".", 2), [""]);
        assert_eq!(split("abc", "", 2), ["a", "b"]);
        assert_eq!(split("abc", "", -2), ["b", "c"]);
        assert!(strings_split_n(&[Value::from("a"), Value::from("."), Value::from(1.5)]).is_err());
    }

    #[test]
    fn flatten_one_level() {
        let v = Value::from_json_str(r#"[[1,2],"s",[3,{"a":"b"}],4.5,[6,[7,8]]]"#).unwrap();
        let want = Value::from_json_str(r#"[1,2,"s",3,{"a":"b"},4.5,6,[7,8]]"#).unwrap();
        assert_eq!(array_flatten(&[v]).unwrap(), want);
        assert!(array_flatten(&[Value::from(42i64)]).is_err());
    }

    #[test]
    fn is_valid_is_false_for_non_strings() {
        let json = |s: &str| Value::from_json_str(s).is_ok();
        assert_eq!(
            is_valid(&[Value::from("{\"a\": 1}")], json),
            Value::Bool(true)
        );
        assert_eq!(is_valid(&[Value::from("{a: 1}")], json), Value::Bool(false));
        assert_eq!(is_valid(&[Value::from(1i64)], json), Value::Bool(false));
        assert_eq!(is_valid(&[Value::Null], json), Value::Bool(false));
        let mut e = regorus::Engine::new();
        register(&mut e).unwrap();
        e.add_policy(
            "t.rego".into(),
            "package t\np := [json.is_valid(input.x), json.is_valid(\"[1]\")]\n".into(),
        )
        .unwrap();
        e.set_input(Value::from_json_str(r#"{"x": 7}"#).unwrap());
        assert_eq!(
            e.eval_rule("data.t.p".into()).unwrap(),
            Value::from(vec![Value::Bool(false), Value::Bool(true)])
        );
    }

    #[cfg(feature = "yaml")]
    #[test]
    fn a_yaml_stream_is_valid_when_every_document_is() {
        assert!(yaml_parses("a: 1\n"));
        assert!(yaml_parses("a: 1\n---\nb: 2\n"));
        assert!(!yaml_parses("a: 1\n---\n\tb: 2\n"));
        assert!(!yaml_parses("  test:\ntest1: hello\n"));
    }

    #[test]
    fn registered_in_the_interpreter() {
        let mut e = regorus::Engine::new();
        register(&mut e).unwrap();
        e.add_policy(
            "t.rego".into(),
            "package t\np := strings.split_n(\"a.b\", \".\", -1)\n".into(),
        )
        .unwrap();
        assert_eq!(
            e.eval_rule("data.t.p".into()).unwrap(),
            Value::from(vec![Value::from("b")])
        );
    }
}
