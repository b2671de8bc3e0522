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

pub mod source;

use anyhow::{Result, bail};
use regorus::Value;

/// `(name, arity)` of every builtin added by [`register`].
pub const EXTENSIONS: &[(&str, u8)] = &[
    ("array.flatten", 1),
    ("strings.split_n", 3),
    ("json.is_valid", 1),
    ("time.parse_duration_ns", 1),
    ("time.add_date", 4),
    #[cfg(feature = "yaml")]
    ("yaml.is_valid", 1),
];

/// `(name, arity)` of the builtins a compiled module asks its host for, through OPA's
/// `opa_builtin<N>` imports, as modules built by `opa build -t wasm` do: `opa-wasm` implements
/// them (its `time-builtins` feature), and the clock stays the host's. Natively, regorus's own
/// `time` builtins answer. (`time.diff` and `time.parse_ns` are not here: `opa-wasm` does not
/// implement them, so the compiler still refuses them. `time.parse_duration_ns` and
/// `time.add_date` are extensions of this crate: `opa-wasm`'s refuses negative durations, and
/// neither its nor regorus's date arithmetic normalises month ends as OPA does.)
pub const HOST_BUILTINS: &[(&str, u8)] = &[
    ("time.clock", 1),
    ("time.date", 1),
    ("time.now_ns", 0),
    ("time.parse_rfc3339_ns", 1),
    ("time.weekday", 1),
];

/// A policy source as both engines load it: calls of this crate's builtins in OPA's output
/// form (`json.is_valid(doc, ok)`) rewritten to assignments (`ok = json.is_valid(doc)`), which
/// regorus supports for extensions.
pub fn prepare_source(src: &str) -> String {
    let builtins: Vec<(&str, u8)> = EXTENSIONS.iter().chain(HOST_BUILTINS).copied().collect();
    source::rewrite_output_calls(src, &builtins)
}

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
        "time.parse_duration_ns".into(),
        1,
        Box::new(|a: Vec<Value>| match a.as_slice() {
            [Value::String(s)] => Ok(Value::from(parse_duration_ns(s)?)),
            [other] => bail!(
                "time.parse_duration_ns: operand 1 must be string but got {}",
                type_name(other)
            ),
            _ => bail!("time.parse_duration_ns: expects 1 argument"),
        }),
    )?;
    engine.add_extension(
        "time.add_date".into(),
        4,
        Box::new(|a: Vec<Value>| time_add_date(&a)),
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

/// `time.parse_duration_ns(s)`: Go's `time.ParseDuration`, in nanoseconds: a sign, then one or
/// more decimal numbers with a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `-1h30.5m`.
pub fn parse_duration_ns(text: &str) -> Result<i64> {
    let invalid = || anyhow::anyhow!("time: invalid duration {text:?}");
    let (neg, mut s) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let mut total: u64 = 0;
    while !s.is_empty() {
        let (int, rest) = s.split_at(digits(s));
        let (frac, rest) = match rest.strip_prefix('.') {
            Some(r) => r.split_at(digits(r)),
            None => ("", rest),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let (unit, rest) = rest.split_at(
            rest.find(|c: char| c == '.' || c.is_ascii_digit())
                .unwrap_or(rest.len()),
        );
        let scale: u64 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => bail!("time: missing unit in duration {text:?}"),
            other => bail!("time: unknown unit {other:?} in duration {text:?}"),
        };
        let whole: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut v = whole.checked_mul(scale).ok_or_else(invalid)?;
        if !frac.is_empty() {
            // As Go does: the leading digits that fit, scaled in floating point.
            let (mut f, mut div) = (0u64, 1f64);
            for d in frac.bytes() {
                match f
                    .checked_mul(10)
                    .and_then(|x| x.checked_add(u64::from(d - b'0')))
                {
                    Some(x) if x < 1 << 63 => {
                        f = x;
                        div *= 10.0;
                    }
                    _ => break,
                }
            }
            v = v
                .checked_add((f as f64 * (scale as f64 / div)) as u64)
                .ok_or_else(invalid)?;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > 1 << 63 {
            return Err(invalid());
        }
        s = rest;
    }
    if neg {
        Ok((total as i64).wrapping_neg())
    } else {
        i64::try_from(total).map_err(|_| invalid())
    }
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

const NS_PER_DAY: i128 = 86_400_000_000_000;

/// `time.add_date(ns, years, months, days)`: Go's `Time.AddDate` in UTC, as OPA computes it.
/// Out-of-range months and days are normalised, not clamped: 31 January plus one month is
/// 3 March (2 March in a leap year), 29 February plus one year is 1 March. (regorus clamps to
/// the month's last day, or is undefined for 29 February; `opa-wasm` clamps.) A result outside
/// the int64 range of nanoseconds is an error.
pub fn time_add_date(args: &[Value]) -> Result<Value> {
    let name = "time.add_date";
    let int = |i: usize| -> Result<i128> {
        match arg(name, args, i, 4)? {
            Value::Number(n) if n.is_integer() => n
                .as_i64()
                .map(i128::from)
                .ok_or_else(|| anyhow::anyhow!("{name}: operand {} is out of range", i + 1)),
            Value::Number(_) => bail!(
                "{name}: operand {} must be integer number but got floating-point number",
                i + 1
            ),
            other => bail!(
                "{name}: operand {} must be number but got {}",
                i + 1,
                type_name(other)
            ),
        }
    };
    let (ns, years, months, days) = (int(0)?, int(1)?, int(2)?, int(3)?);
    let (day, time_of_day) = (ns.div_euclid(NS_PER_DAY), ns.rem_euclid(NS_PER_DAY));
    let (y, m, d) = civil_from_days(day);
    // Go's time.Date: the month first (overflowing into the year), then the day from the 1st.
    let m = m + months - 1;
    let (y, m) = (y + years + m.div_euclid(12), m.rem_euclid(12) + 1);
    let day = days_from_civil(y, m) + d - 1 + days;
    i64::try_from(day * NS_PER_DAY + time_of_day)
        .map(Value::from)
        .map_err(|_| anyhow::anyhow!("{name}: time outside of valid range"))
}

/// Days since 1970-01-01 of the 1st of month `m` (1–12) of year `y`, proleptic Gregorian.
fn days_from_civil(y: i128, m: i128) -> i128 {
    let y = if m <= 2 { y - 1 } else { y };
    let (era, yoe) = (y.div_euclid(400), y.rem_euclid(400));
    let doy = (153 * ((m + 9) % 12) + 2) / 5;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// `(year, month, day)` of a count of days since 1970-01-01, proleptic Gregorian.
fn civil_from_days(z: i128) -> (i128, i128, i128) {
    let z = z + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let (d, m) = (
        doy - (153 * mp + 2) / 5 + 1,
        if mp < 10 { mp + 3 } else { mp - 9 },
    );
    (yoe + era * 400 + i128::from(m <= 2), m, d)
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
    fn durations_parse_as_in_go() {
        let ok = |s: &str| parse_duration_ns(s).unwrap();
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("-0"), 0);
        assert_eq!(ok("1h30m"), 5_400_000_000_000);
        assert_eq!(ok("-5m"), -300_000_000_000);
        assert_eq!(ok("+90s"), 90_000_000_000);
        assert_eq!(ok("1.5h"), 5_400_000_000_000);
        assert_eq!(ok(".5s"), 500_000_000);
        assert_eq!(ok("1.s"), 1_000_000_000);
        assert_eq!(ok("3µs2ns"), 3_002);
        assert_eq!(ok("1us"), 1_000);
        assert_eq!(ok("2562047h47m16.854775807s"), i64::MAX);
        assert_eq!(ok("-2562047h47m16.854775808s"), i64::MIN);
        for bad in [
            "",
            "-",
            "s",
            ".s",
            "1",
            "1d",
            "bogus",
            "1h 2m",
            "2562047h47m16.854775808s",
        ] {
            assert!(parse_duration_ns(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn add_date_normalises_as_go_does() {
        // Nanoseconds of a UTC time, and back to "YYYY-MM-DDThh:mm:ss.nnnnnnnnn".
        let ns = |y: i128, m: i128, d: i128, secs: i128| {
            ((days_from_civil(y, m) + d - 1) * NS_PER_DAY + secs * 1_000_000_000) as i64
        };
        let add = |t: i64, y: i64, m: i64, d: i64| {
            let v = time_add_date(&[t.into(), y.into(), m.into(), d.into()]).unwrap();
            let t = i128::from(v.as_i64().unwrap());
            let (day, rest) = (t.div_euclid(NS_PER_DAY), t.rem_euclid(NS_PER_DAY));
            let (y, m, d) = civil_from_days(day);
            format!("{y:04}-{m:02}-{d:02}+{rest}")
        };
        let noon = 12 * 3_600;
        assert_eq!(
            add(ns(2023, 1, 31, noon), 0, 1, 0),
            "2023-03-03+43200000000000"
        );
        assert_eq!(
            add(ns(2024, 1, 31, noon), 0, 1, 0),
            "2024-03-02+43200000000000"
        );
        assert_eq!(add(ns(2024, 2, 29, 0), 1, 0, 0), "2025-03-01+0");
        assert_eq!(add(ns(2024, 2, 29, 0), 4, 0, 0), "2028-02-29+0");
        assert_eq!(add(ns(2024, 10, 1, 0), 0, 0, 31), "2024-11-01+0");
        assert_eq!(add(ns(2024, 3, 31, 0), 0, -1, 0), "2024-03-02+0");
        assert_eq!(add(ns(2024, 1, 15, 0), 0, -13, 0), "2022-12-15+0");
        assert_eq!(add(ns(2024, 1, 15, 0), -1, 25, -15), "2025-01-31+0");
        assert_eq!(add(ns(1900, 2, 28, 0), 0, 0, 1), "1900-03-01+0");
        assert_eq!(add(ns(2000, 2, 28, 0), 0, 0, 1), "2000-02-29+0");
        // Before 1970, half a second before midnight.
        assert_eq!(add(-500_000_000, 0, 0, 1), "1970-01-01+86399500000000");
        assert_eq!(add(0, 0, 0, 0), "1970-01-01+0");
        // 1677-09-21 and 2262-04-11 bound the int64 nanoseconds.
        let err = |args: [Value; 4]| time_add_date(&args).unwrap_err().to_string();
        assert!(err([0i64.into(), 300i64.into(), 0i64.into(), 0i64.into()]).contains("outside"));
        assert!(
            err([0i64.into(), i64::MAX.into(), i64::MAX.into(), 0i64.into()]).contains("outside")
        );
        assert!(err([0i64.into(), 1.5f64.into(), 0i64.into(), 0i64.into()]).contains("integer"));
        assert!(err(["x".into(), 0i64.into(), 0i64.into(), 0i64.into()]).contains("string"));
        assert!(time_add_date(&[0i64.into()]).is_err());
        // Every day of four centuries round-trips through the calendar arithmetic.
        for day in -73_000..73_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m) + d - 1, day);
        }
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
