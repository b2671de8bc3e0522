//! The web UI's own texts, one catalogue per language (`i18n/en.txt`, `i18n/zh.txt`): lines of
//! `key = text`, `#` comments and blank lines skipped. Both are embedded in the binary and parsed
//! once, on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

const EN: &str = include_str!("i18n/en.txt");
const ZH: &str = include_str!("i18n/zh.txt");

/// The text of `key` in `lang` (`"zh"`: Simplified Chinese; anything else: English). A key no
/// catalogue holds reads as itself (the unit tests keep that from happening).
pub fn t(lang: &str, key: &'static str) -> &'static str {
    static EN_TEXTS: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    static ZH_TEXTS: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    let texts = if lang == "zh" {
        ZH_TEXTS.get_or_init(|| catalogue(ZH))
    } else {
        EN_TEXTS.get_or_init(|| catalogue(EN))
    };
    texts.get(key).copied().unwrap_or(key)
}

fn catalogue(source: &'static str) -> HashMap<&'static str, &'static str> {
    entries(source).filter_map(Result::ok).collect()
}

/// A catalogue's entries in order; a line that is not `key = text` is an `Err` with the line.
fn entries(
    source: &'static str,
) -> impl Iterator<Item = Result<(&'static str, &'static str), &'static str>> {
    source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                Ok((k.trim(), v.trim()))
            }
            _ => Err(l),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(name: &str, source: &'static str) -> BTreeSet<&'static str> {
        let mut keys = BTreeSet::new();
        for entry in entries(source) {
            let (key, _) = entry.unwrap_or_else(|l| panic!("{name}: not `key = text`: {l}"));
            assert!(
                key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}: key `{key}` is not snake_case"
            );
            assert!(keys.insert(key), "{name}: `{key}` is given twice");
        }
        keys
    }

    /// Every `t(lang, "key")` call in the web screens' sources, as (file, key); a call whose key is
    /// not a string literal fails, so that every key can be checked here.
    fn keys_used() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server/web");
        let mut used = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src/server/web") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".rs") || name == "i18n.rs" {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("a source file");
            let bytes = source.as_bytes();
            for (at, _) in source.match_indices("t(") {
                let before = at.checked_sub(1).map(|i| bytes[i]);
                if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
                    continue;
                }
                let args = &source[at + 2..];
                let key = args
                    .split_once(',')
                    .map(|(_, rest)| rest.trim_start())
                    .and_then(|rest| rest.strip_prefix('"'))
                    .and_then(|rest| rest.split_once('"'))
                    .filter(|(_, after)| after.trim_start().starts_with(')'))
                    .map(|(key, _)| key.to_string());
                let line = source[..at].lines().count();
                let key = key.unwrap_or_else(|| {
                    panic!("{name}:{line}: t(…) must name its key as a string literal")
                });
                used.push((name.clone(), key));
            }
        }
        used
    }

    #[test]
    fn catalogues_have_the_same_keys_and_no_empty_texts() {
        let (en, zh) = (keys("en.txt", EN), keys("zh.txt", ZH));
        assert!(!en.is_empty());
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(
            only_en.is_empty() && only_zh.is_empty(),
            "only in en.txt: {only_en:?}; only in zh.txt: {only_zh:?}"
        );
    }

    #[test]
    fn every_key_the_screens_use_is_in_the_catalogues_and_every_key_is_used() {
        let used = keys_used();
        assert!(used.len() > 50, "the scan found only {} calls", used.len());
        let en = keys("en.txt", EN);
        for (file, key) in &used {
            assert!(
                en.contains(key.as_str()),
                "{file}: `{key}` is not in the catalogues"
            );
        }
        let used: BTreeSet<&str> = used.iter().map(|(_, k)| k.as_str()).collect();
        let unused: Vec<_> = en.iter().filter(|k| !used.contains(*k)).collect();
        assert!(unused.is_empty(), "keys no screen uses: {unused:?}");
    }

    #[test]
    fn lookups() {
        assert_eq!(t("en", "sign_in"), "Sign in");
        assert_eq!(t("zh", "sign_in"), "登录");
        assert_eq!(t("fr", "customers"), "Customers");
        assert_eq!(t("zh", "no_such_key"), "no_such_key");
    }
}
