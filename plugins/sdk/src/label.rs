//! Bilingual labels: English, optionally with Simplified Chinese.
//!
//! ```
//! use crm_plugin_sdk::{en, tr, Label, Locale};
//!
//! let title = tr!("Customers", "客户");
//! assert_eq!(title.text(Locale::ZhHans), "客户");
//! assert_eq!(en("Region").text(Locale::ZhHans), "Region"); // falls back to English
//! let greeting = tr!("Hello, {}", "你好，{}", "Ada");
//! assert_eq!(greeting.en, "Hello, Ada");
//! ```

use crate::{Label, Locale};

/// A label in English only (the host shows it to every locale).
pub fn en(text: impl Into<String>) -> Label {
    Label {
        en: text.into(),
        zh_hans: None,
    }
}

/// A label in English and Simplified Chinese: `tr!("Save", "保存")`. With arguments after the two
/// texts, both are `format!` strings: `tr!("{} customers", "{} 位客户", n)`.
#[macro_export]
macro_rules! tr {
    ($en:expr, $zh:expr $(,)?) => {
        $crate::Label {
            en: ::std::string::String::from($en),
            zh_hans: ::core::option::Option::Some(::std::string::String::from($zh)),
        }
    };
    ($en:literal, $zh:literal, $($arg:expr),+ $(,)?) => {
        $crate::Label {
            en: ::std::format!($en, $($arg),+),
            zh_hans: ::core::option::Option::Some(::std::format!($zh, $($arg),+)),
        }
    };
}

impl Label {
    /// An English-only label.
    pub fn en(text: impl Into<String>) -> Self {
        en(text)
    }

    /// Adds (or replaces) the Simplified Chinese text.
    pub fn zh(mut self, text: impl Into<String>) -> Self {
        self.zh_hans = Some(text.into());
        self
    }

    /// The text for `locale`, falling back to English.
    pub fn text(&self, locale: Locale) -> &str {
        match locale {
            Locale::ZhHans => self.zh_hans.as_deref().unwrap_or(&self.en),
            Locale::En => &self.en,
        }
    }
}

impl From<&str> for Label {
    fn from(text: &str) -> Self {
        en(text)
    }
}

impl From<String> for Label {
    fn from(text: String) -> Self {
        en(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_english() {
        let l = en("Save");
        assert_eq!(l.text(Locale::En), "Save");
        assert_eq!(l.text(Locale::ZhHans), "Save");
        let l = l.zh("保存");
        assert_eq!(l.text(Locale::ZhHans), "保存");
    }

    #[test]
    fn tr_formats_both_languages() {
        let n = 3;
        let l = crate::tr!("{} customers", "{} 位客户", n);
        assert_eq!(l.en, "3 customers");
        assert_eq!(l.zh_hans.as_deref(), Some("3 位客户"));
        let plain = crate::tr!("Customers", "客户");
        assert_eq!(plain.text(Locale::ZhHans), "客户");
        let from: Label = "Region".into();
        assert_eq!(from, en("Region"));
    }
}
