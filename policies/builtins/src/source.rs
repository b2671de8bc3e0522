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

/// The arguments of the call whose `(` is at `open` in `code` (from [`code_only`]), as char
/// ranges, each without its surrounding whitespace.
pub fn call_args(code: &[char], open: usize) -> Vec<std::ops::Range<usize>> {
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
                    return args;
                }
            }
            ',' if depth == 1 => {
                args.push(trimmed(start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    args
}

/// Rewrites every call of one of `builtins` (`(name, arity)`) made in OPA's output form,
/// `f(x, out)`, into the assignment form `out = f(x)`, which is what OPA means by it:
/// regorus supports the output form for its own builtins only, not for extensions. A name at
/// the start of a line is a rule head (a policy's own function of that name), left alone;
/// the line breaks of a call spread over several lines are kept, so later line numbers hold.
pub fn rewrite_output_calls(src: &str, builtins: &[(&str, u8)]) -> String {
    let code: Vec<char> = code_only(src).chars().collect();
    let text: Vec<char> = src.chars().collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    while i < text.len() {
        let word_start = i > 0 && is_ident(code[i - 1]);
        if !word_start && is_ident(code[i]) {
            let mut j = i;
            while j < code.len() && is_ident(code[j]) {
                j += 1;
            }
            let word: String = code[i..j].iter().collect();
            let mut k = j;
            while k < code.len() && code[k].is_whitespace() {
                k += 1;
            }
            let arity = builtins
                .iter()
                .find(|(n, _)| *n == word)
                .map(|(_, a)| usize::from(*a));
            let head = i == 0 || code[i - 1] == '\n';
            if let (Some(arity), Some('('), false) = (arity, code.get(k), head) {
                let args = call_args(&code, k);
                let close = (k..code.len())
                    .scan(0usize, |d, p| {
                        match code[p] {
                            '(' | '[' | '{' => *d += 1,
                            ')' | ']' | '}' => *d -= 1,
                            _ => {}
                        }
                        Some((p, *d))
                    })
                    .find(|&(_, d)| d == 0)
                    .map(|(p, _)| p);
                let well_formed = args.len() == arity + 1 && args.iter().all(|a| !a.is_empty());
                if let (Some(close), true) = (close, well_formed) {
                    let piece =
                        |r: &std::ops::Range<usize>| text[r.clone()].iter().collect::<String>();
                    let inputs: Vec<String> = args[..arity].iter().map(piece).collect();
                    out.push_str(&format!(
                        "{} = {word}({})",
                        piece(&args[arity]),
                        inputs.join(", ")
                    ));
                    out.extend(text[i..=close].iter().filter(|c| **c == '\n'));
                    i = close + 1;
                    continue;
                }
            }
            out.extend(&text[i..j]);
            i = j;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
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
        assert_eq!(call_args(&code, 1).len(), 3);
        let code: Vec<char> = "f( )".chars().collect();
        assert_eq!(call_args(&code, 1).len(), 0);
    }
}
