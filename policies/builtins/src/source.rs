//! Rego source text helpers shared by the compiler and both engines.

/// Rego source with comments blanked out and string literals (quotes included) replaced by
/// `~`, same length in chars: neither can be mistaken for code, and a string argument still
/// counts as one.
pub fn code_only(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                out.push(' ');
                while let Some(&n) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    chars.next();
                    out.push(' ');
                }
            }
            '"' | '`' => {
                out.push('~');
                while let Some(n) = chars.next() {
                    if c == '"' && n == '\\' {
                        chars.next();
                        out.push_str("~~");
                        continue;
                    }
                    out.push(if n == '\n' { '\n' } else { '~' });
                    if n == c || (c == '"' && n == '\n') {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// One identifier (dotted names included) in `code` (from [`code_only`]).
pub struct Word {
    pub range: std::ops::Range<usize>,
    /// Where the next non-whitespace char is (`code.len()` at the end).
    pub next: usize,
}

/// The identifiers of `code` (from [`code_only`]), in order.
pub fn words(code: &[char]) -> Vec<Word> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if !is_ident(code[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < code.len() && is_ident(code[i]) {
            i += 1;
        }
        let mut next = i;
        while next < code.len() && code[next].is_whitespace() {
            next += 1;
        }
        out.push(Word {
            range: start..i,
            next,
        });
    }
    out
}

/// A call's arguments, as char ranges without their surrounding whitespace, and where its
/// closing `)` is.
pub struct Call {
    pub args: Vec<std::ops::Range<usize>>,
    pub close: usize,
}

/// The call whose `(` is at `open` in `code` (from [`code_only`]); `None` if it is not closed.
pub fn call_args(code: &[char], open: usize) -> Option<Call> {
    let mut args = Vec::new();
    let mut depth = 0usize;
    let mut start = open + 1;
    let trimmed = |a: usize, b: usize| {
        let (mut a, mut b) = (a, b);
        while a < b && code[a].is_whitespace() {
            a += 1;
        }
        while b > a && code[b - 1].is_whitespace() {
            b -= 1;
        }
        a..b
    };
    for (i, &c) in code.iter().enumerate().skip(open) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let last = trimmed(start, i);
                    if !last.is_empty() || !args.is_empty() {
                        args.push(last);
                    }
                    return Some(Call { args, close: i });
                }
            }
            ',' if depth == 1 => {
                args.push(trimmed(start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// Rewrites every call of one of `builtins` (`(name, arity)`) made in OPA's output form,
/// `f(x, out)`, into the assignment form `out = f(x)`, which is what OPA means by it:
/// regorus supports the output form for its own builtins only, not for extensions. A name at
/// the start of a line is a rule head (a policy's own function of that name), left alone;
/// the line breaks of a call spread over several lines are kept, so later line numbers hold.
pub fn rewrite_output_calls(src: &str, builtins: &[(&str, u8)]) -> String {
    let code: Vec<char> = code_only(src).chars().collect();
    let text: Vec<char> = src.chars().collect();
    let piece = |r: &std::ops::Range<usize>| text[r.clone()].iter().collect::<String>();
    let mut out = String::with_capacity(src.len() + 16);
    let mut copied = 0;
    for w in words(&code) {
        let start = w.range.start;
        if start < copied
            || (start > 0 && code[start - 1] == '\n')
            || code.get(w.next) != Some(&'(')
        {
            continue;
        }
        let word = piece(&w.range);
        let Some(arity) = builtins
            .iter()
            .find(|(n, _)| *n == word)
            .map(|(_, a)| usize::from(*a))
        else {
            continue;
        };
        let Some(call) = call_args(&code, w.next) else {
            continue;
        };
        if call.args.len() != arity + 1 || call.args.iter().any(|a| a.is_empty()) {
            continue;
        }
        let inputs: Vec<String> = call.args[..arity].iter().map(piece).collect();
        out.extend(&text[copied..start]);
        out.push_str(&format!(
            "{} = {word}({})",
            piece(&call.args[arity]),
            inputs.join(", ")
        ));
        out.extend(text[start..=call.close].iter().filter(|c| **c == '\n'));
        copied = call.close + 1;
    }
    out.extend(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &[(&str, u8)] = &[("json.is_valid", 1), ("time.now_ns", 0)];

    #[test]
    fn output_calls_become_assignments() {
        let src = "package t\np := [x | d = input[_]; json.is_valid(d, x)]\nv if json.is_valid(\"[1]\", true)\n\
                   q if { time.now_ns(n); n > 0 } # json.is_valid(a, b)\n\
                   r := json.is_valid(\"a, b\")\ns if json.is_valid( {\"k\": [1, 2]} , true )\n\
                   u := my.json.is_valid(1, 2)\njson.is_valid(x, y) := true\n\
                   w if { json.is_valid(\n\"{}\",\n ok); ok }\nz if json.is_valid(1,)\n";
        assert_eq!(
            rewrite_output_calls(src, B),
            "package t\np := [x | d = input[_]; x = json.is_valid(d)]\nv if true = json.is_valid(\"[1]\")\n\
             q if { n = time.now_ns(); n > 0 } # json.is_valid(a, b)\n\
             r := json.is_valid(\"a, b\")\ns if true = json.is_valid({\"k\": [1, 2]})\n\
             u := my.json.is_valid(1, 2)\njson.is_valid(x, y) := true\n\
             w if { ok = json.is_valid(\"{}\")\n\n; ok }\nz if json.is_valid(1,)\n"
        );
    }

    #[test]
    fn arguments_are_counted_at_the_top_level() {
        let code: Vec<char> = "f(a, [b, c], {\"d\": (e, f)})".chars().collect();
        assert_eq!(
            call_args(&code, 1).map(|c| (c.args.len(), c.close)),
            Some((3, 26))
        );
        let code: Vec<char> = "f( )".chars().collect();
        assert_eq!(call_args(&code, 1).map(|c| c.args.len()), Some(0));
    }
}
