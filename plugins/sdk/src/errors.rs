//! Building errors and reading request parameters.

use crate::{Error, FieldError, Label, Param};

/// `Error::Denied` with a reason (shown to staff and logged; no personal data).
pub fn denied(reason: impl Into<String>) -> Error {
    Error::Denied(reason.into())
}

/// `Error::Invalid` from several field errors.
pub fn invalid(errors: impl IntoIterator<Item = (impl Into<String>, Label)>) -> Error {
    Error::Invalid(
        errors
            .into_iter()
            .map(|(field, message)| FieldError {
                field: field.into(),
                message,
            })
            .collect(),
    )
}

/// `Error::Invalid` for one field.
pub fn invalid_field(field: impl Into<String>, message: Label) -> Error {
    invalid([(field, message)])
}

impl Error {
    /// The field errors, if this is `invalid`.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Invalid(errors) => errors,
            _ => &[],
        }
    }
}

/// Reading parameters (screen params, form inputs) by name.
pub trait ParamsExt {
    /// The first value of `name`.
    fn value(&self, name: &str) -> Option<&str>;
    /// Every value of `name` (multi-selects send one parameter per value).
    fn values(&self, name: &str) -> Vec<&str>;
    /// The first value of `name`, non-empty after trimming, or `invalid` naming the field.
    fn required(&self, name: &str) -> Result<&str, Error>;
    /// The first value of `name` parsed as `T`; absent or empty gives `None`, unparsable gives
    /// `invalid` naming the field.
    fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Error>;
}

impl ParamsExt for [Param] {
    fn value(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    fn values(&self, name: &str) -> Vec<&str> {
        self.iter()
            .filter(|p| p.name == name)
            .map(|p| p.value.as_str())
            .collect()
    }

    fn required(&self, name: &str) -> Result<&str, Error> {
        match self.value(name).map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(invalid_field(name, crate::tr!("is required", "为必填项"))),
        }
    }

    fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Error> {
        match self.value(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| invalid_field(name, crate::tr!("has the wrong format", "格式不正确"))),
        }
    }
}

impl ParamsExt for Vec<Param> {
    fn value(&self, name: &str) -> Option<&str> {
        self.as_slice().value(name)
    }
    fn values(&self, name: &str) -> Vec<&str> {
        self.as_slice().values(name)
    }
    fn required(&self, name: &str) -> Result<&str, Error> {
        self.as_slice().required(name)
    }
    fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Error> {
        self.as_slice().parse(name)
    }
}

/// A parameter.
pub fn param(name: impl Into<String>, value: impl Into<String>) -> Param {
    Param {
        name: name.into(),
        value: value.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_lookup_and_parse() {
        let ps = vec![
            param("page", "2"),
            param("tag", "vip"),
            param("tag", "sports"),
            param("name", "  "),
            param("n", "x"),
        ];
        assert_eq!(ps.value("page"), Some("2"));
        assert_eq!(ps.parse::<u32>("page").unwrap(), Some(2));
        assert_eq!(ps.parse::<u32>("missing").unwrap(), None);
        assert_eq!(ps.values("tag"), vec!["vip", "sports"]);
        let e = ps.required("name").unwrap_err();
        assert_eq!(e.field_errors()[0].field, "name");
        let e = ps.parse::<u32>("n").unwrap_err();
        assert_eq!(e.field_errors()[0].field, "n");
    }

    #[test]
    fn error_helpers() {
        assert_eq!(denied("no"), Error::Denied("no".into()));
        let e = invalid([("a", crate::en("bad")), ("b", crate::en("worse"))]);
        assert_eq!(e.field_errors()[1].field, "b");
        assert!(Error::NotFound.field_errors().is_empty());
    }
}
